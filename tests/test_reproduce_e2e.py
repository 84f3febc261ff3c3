"""bca-reproduce + bca-table end to end at tiny scale: runs every cell, resumes, and tabulates the records."""

import statistics

import yaml

from bca.cli import bca_reproduce as reproduce
from bca.cli import bca_table
from bca.run import records

TINY_TABLE = {
    "title": "tiny table",
    "reports": "best dev epoch",
    "columns": ["rotten_tomatoes"],
    "seeds": [0, 1],
    "common": [
        "model=tiny-roberta",
        "logger=disabled",
        "task.max_train_samples=16",
        "task.max_eval_samples=16",
        "trainer.batch_size=8",
        "trainer.epochs=1",
        "trainer.max_length=24",
        "trainer.progress=false",
    ],
    "rows": [
        {"label": "LoRA", "overrides": ["method=lora"], "published": {"rotten_tomatoes": 80.0}},
        {"label": "C3A b=16", "overrides": ["method=c3a", "method.block_size=16"]},
    ],
}


def test_reproduce_runs_every_cell_resumes_and_tabulates(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_TABLE))
    results = tmp_path / "results"
    argv = [str(path), f"results_dir={results}"]

    assert reproduce.main(argv) == 0
    written = {p: r for p, r in records.iter_records(results / "records")}
    assert len(written) == 4 and all(r["status"] == "ok" for r in written.values())
    assert {(r["config"]["tags"][0], r["config"]["trainer"]["seed"]) for r in written.values()} == {
        ("row:LoRA", 0),
        ("row:LoRA", 1),
        ("row:C3A b=16", 0),
        ("row:C3A b=16", 1),
    }
    mtimes = {p: p.stat().st_mtime_ns for p in written}

    capsys.readouterr()
    assert reproduce.main(argv) == 0  # interrupted-and-rerun: every record is found, nothing re-runs
    assert "4 runs, 4 already finished" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in written} == mtimes

    out = tmp_path / "table.md"
    assert bca_table.main([str(results), "--experiment", str(path), "--out", str(out)]) == 0
    text = out.read_text()
    for label in ("LoRA", "C3A b=16"):
        scores = [
            100 * r["metrics"]["best"]["eval"]["accuracy"]
            for r in written.values()
            if r["config"]["tags"] == [f"row:{label}"]
        ]
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
        assert f"{statistics.median(scores):.2f}" in line and "n=2" in line
    assert "| 80.00 |" in text  # the published number sits beside ours


def test_dry_run_lists_cells_without_running(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_TABLE))
    assert reproduce.main([str(path), f"results_dir={tmp_path}", "--dry-run", "--rows", "LoRA"]) == 0
    out = capsys.readouterr().out
    assert out.count("[todo]") == 2 and not (tmp_path / "records").exists()
