"""``scripts/commit_records.sh`` commits the records that landed, and only them, then the tables they rebuild.

Long result jobs span sessions and a later session keeps only what was committed, so this script runs beside the
jobs while other work goes on in the same checkout. What must hold: a finished record is committed, a temp file
of a record still being written is not, an unrelated uncommitted edit stays uncommitted, and the results files
committed after it are what the new HEAD's records and code rebuild, round after round (the rebuild worktree
must follow this checkout's HEAD, not stay where it was made). The check runs on a clone of HEAD with two records
taken out and one table cell made stale; they land one per round; after both, the clone's tree is HEAD's again.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
REBUILT = "results: tables rebuilt from the committed records"


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ID}).stdout  # fmt: skip


def test_records_landing_one_per_round_are_committed_alone_and_each_round_rebuilds_from_the_new_head(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing committed to start from")
    clone = tmp_path / "repo"
    git(ROOT, "clone", "-q", "--shared", str(ROOT), str(clone))
    (clone / ".venv").symlink_to(ROOT / ".venv" if (ROOT / ".venv").is_dir() else Path(sys.prefix))
    env = {**os.environ, **GIT_ID}
    env.pop("PYTHONPATH", None)  # the script must point the rebuild at HEAD's code itself
    # the clone's own tables first (HEAD's records may be a round ahead of HEAD's tables while jobs run)
    rebuild = subprocess.run(["bash", "scripts/results_tables.sh"], cwd=clone, env={**env, "PYTHONPATH": str(clone)},
                             capture_output=True, text=True, timeout=900)  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stderr[-3000:]
    git(clone, "commit", "-q", "--allow-empty", "-am", "tables of HEAD's records")
    head = git(clone, "rev-parse", "HEAD").strip()
    records = clone / "results" / "instruct_smollm2" / "records"
    # two runs of the table itself: an untagged earlier run is in no table, so its landing rebuilds nothing
    landing = [r for r in sorted(records.glob("*.json")) if json.loads(r.read_text())["config"].get("experiment")
               == "instruct_smollm2"][:2]  # fmt: skip
    table = clone / "results" / "instruct_smollm2.md"
    assert "| 1.3716 (n=1) |" in table.read_text()  # the zero-shot row's held-out loss
    # the state a session sees while jobs run: a table two records behind (and one stale cell)
    saved = {r: r.read_text() for r in landing}
    git(clone, "rm", "-q", *(str(r.relative_to(clone)) for r in landing))
    table.write_text(table.read_text().replace("| 1.3716 (n=1) |", "| 1.3717 (n=1) |", 1))
    git(clone, "commit", "-q", "-am", "two records behind")
    (clone / "README.md").write_text((clone / "README.md").read_text() + "\nongoing edit\n")
    tmp = records / f".{landing[0].name}.abc.tmp"
    tmp.write_text("{half a rec")  # a record being written: never committed
    for record in landing:  # one record lands per round
        record.write_text(saved[record])
        proc = subprocess.run(["bash", "scripts/commit_records.sh"], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=900)  # fmt: skip
        assert proc.returncode == 0 and "committed 1 records" in proc.stdout, (proc.stdout, proc.stderr[-3000:])
        added = git(clone, "show", "--name-status", "--format=%s", "HEAD~1").split("\n")
        assert added[0] == "results: 1 new records"
        assert [line for line in added[1:] if line] == [f"A\t{record.relative_to(clone)}"]
        assert git(clone, "log", "-1", "--format=%s") == REBUILT + "\n"
    assert git(clone, "diff", "--stat", head, "HEAD") == ""  # records and tables are HEAD's again, byte for byte
    # neither the ongoing edit nor the record being written was committed
    assert git(clone, "status", "--porcelain", "--", ".", ":!.venv") == f" M README.md\n?? {tmp.relative_to(clone)}\n"
    again = subprocess.run(["bash", "scripts/commit_records.sh"], cwd=clone, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "no new records" in again.stdout, (again.stdout, again.stderr)
    assert git(clone, "log", "-1", "--format=%s") == REBUILT + "\n"
