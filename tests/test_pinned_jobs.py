"""scripts/pinned_jobs.sh refuses what it cannot pin, before it creates a worktree or starts a copy."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pinned_jobs.sh"


def _run(*args, **env):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}
    )


def test_bad_copies_and_bad_commit_are_refused_before_any_work():
    before = sorted(p.name for p in (ROOT.parent / "wt").glob("run-*")) if (ROOT.parent / "wt").is_dir() else []
    bad = _run("0", "minilm_glue")
    assert bad.returncode == 2 and "COPIES must be a positive integer, got '0'" in bad.stderr
    unknown = _run("1", "minilm_glue", COMMIT="no-such-commit")
    assert unknown.returncode == 2 and "COMMIT=no-such-commit is not a commit of this repository" in unknown.stderr
    usage = _run("1")
    assert usage.returncode == 2 and "usage:" in usage.stderr
    after = sorted(p.name for p in (ROOT.parent / "wt").glob("run-*")) if (ROOT.parent / "wt").is_dir() else []
    assert after == before  # no worktree made
