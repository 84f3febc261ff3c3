"""Every committed results file is what the committed records rebuild (``scripts/results_tables.sh --check``).

The suite's tables are quoted by readers, so "no number is hand-edited, and no report change was committed
without rebuilding the files" is checked, not promised. The check runs on a clone of HEAD (its own code, its
own records), so uncommitted work in this checkout neither hides nor fakes a difference; one cell of a file is
altered in the clone to show the check catches it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_committed_results_files_rebuild_byte_identically_and_an_edited_cell_is_caught(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing committed to compare with")
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(clone)], check=True, timeout=300)
    (clone / ".venv").symlink_to(ROOT / ".venv" if (ROOT / ".venv").is_dir() else Path(sys.prefix))
    edited = clone / "results" / "bca_block_size_rt.md"  # the superseded sweep: its records never change
    text = edited.read_text()
    assert "| 79.61 |" in text
    edited.write_text(text.replace("| 79.61 |", "| 79.62 |", 1))
    env = {**os.environ, "PYTHONPATH": str(clone)}  # the clone's own bca, not this checkout's editable install
    proc = subprocess.run(["bash", "scripts/results_tables.sh", "--check"], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    out = proc.stdout
    for name in ("minilm_glue.md", "block_size_rt.md", "instruct_smollm2.md"):
        assert f"same: results/{name}" in out, (name, out[-3000:], proc.stderr[-3000:])
    assert proc.returncode == 1 and "DIFFERS: results/bca_block_size_rt.md" in out, out[-3000:]
    assert "> | bca block_size=64 | minilm-l6 | 0.028M | - | 79.61 | 79.61 |" in out  # the rebuilt line, in the diff
    assert not list((clone / "results").glob("*.tmp")), "--check left temp files"
    assert subprocess.run(["git", "status", "--porcelain", "--", "results/*/plots"], cwd=clone, capture_output=True,
                          text=True).stdout == ""  # fmt: skip  # --check draws its plots elsewhere
