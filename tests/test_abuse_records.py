"""Damaged records are reported with what is wrong and skipped (a reproduction redoes their cell); record writes are
atomic and strict JSON; bca-reproduce checks every cell before the first run. The abuse run of issue 15 as tables
(the other kinds: test_abuse_*.py). The CLI functions are called in-process with their argv (no subprocess start-
up), on tiny-roberta and the small RTE folder of conftest's ``tiny_glue``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from abuse_cli import base, one_line_with
from sample_records import sample_record

from bca.cli import bca_reproduce as reproduce
from bca.cli import bca_table
from bca.run import records


# --- Damaged records: reported with what is wrong and skipped; a reproduction redoes them ----------------------
def _without(record: dict, dotted: str) -> dict:
    record = json.loads(json.dumps(record))
    *parents, last = dotted.split(".")
    node = record
    for part in parents:
        node = node[part]
    del node[last]
    return record


DAMAGED_RECORDS = [
    ("no-params", lambda r: _without(r, "params"), "missing params"),
    ("no-model", lambda r: _without(r, "config.model"), "missing config.model"),
    ("no-best-metric", lambda r: _without(r, "metrics.best.eval.accuracy"), "no number for accuracy"),
    ("config-wrong-type", lambda r: {**r, "config": "rte"}, "config is a str, expected dict"),
    ("metrics-wrong-type", lambda r: {**r, "metrics": [0.5]}, "metrics is a list, expected dict"),
    ("status-unknown", lambda r: {**r, "status": "done"}, "status 'done' is not one of"),
]


@pytest.mark.parametrize("damage,words", [c[1:] for c in DAMAGED_RECORDS], ids=[c[0] for c in DAMAGED_RECORDS])
def test_damaged_record_is_reported_skipped_and_not_done(damage, words, tmp_path, capsys):
    good, bad = records.record_path(tmp_path, "good"), records.record_path(tmp_path, "bad")
    records.write_record(good, sample_record("good"))
    records.write_record(bad, sample_record("bad"))
    assert records.finished(bad)  # control: undamaged, it counts as done
    bad.write_text(json.dumps(damage(sample_record("bad"))))
    assert not records.finished(bad)  # what bca-reproduce and the runner ask: a damaged record is not done
    assert bca_table.main([str(tmp_path), "--format", "md", "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr()
    one_line_with(out.err, "skipping damaged record", str(bad), words)
    assert "| 50.00 |" in out.out and "skipped 1 damaged record" in out.out  # the table, built from the good one


def test_reproduce_redoes_a_cell_whose_record_is_damaged(tiny_glue, tmp_path, capsys):
    table = _table(tmp_path, tiny_glue, rows=[{"label": "BCA", "overrides": ["method=bca"]}])
    argv = [str(table), f"results_dir={tmp_path / 'results'}", "--dry-run"]
    assert reproduce.main(argv) == 0
    path = Path(capsys.readouterr().out.split("-> ")[1].split()[0])
    records.write_record(path, sample_record(path.stem))
    assert reproduce.main(argv) == 0 and "[done]" in capsys.readouterr().out
    path.write_text(json.dumps(_without(sample_record(path.stem), "params")))
    assert reproduce.main(argv) == 0 and "[todo]" in capsys.readouterr().out


def test_stale_temp_of_a_killed_record_write_is_removed_by_the_next_write(tmp_path):
    path = records.record_path(tmp_path, "abc")
    path.parent.mkdir(parents=True)
    stale = path.parent / f".{path.name}.k1ll3d.tmp"
    stale.write_text('{"run_id": "abc", "sta')  # what a SIGKILL mid-write leaves
    other = path.parent / ".other.json.x.tmp"  # another run's write in progress: not ours to remove
    other.write_text("{")
    records.write_record(path, sample_record("abc"))
    assert not stale.exists() and other.exists() and records.finished(path)


def test_records_are_strict_json_even_with_a_nan_metric(tmp_path):
    path = records.record_path(tmp_path, "nan")
    records.write_record(path, sample_record("nan", extra={"pearson": float("nan"), "loss": float("inf")}))
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))["extra"] == {
        "pearson": None,
        "loss": None,
    }


# --- bca-reproduce checks every cell fully before the first run; overrides may follow options -----------------
def _table(tmp_path: Path, tiny_glue: Path, rows: list[dict]) -> Path:
    path = tmp_path / "table.yaml"
    common = [o for o in base(tiny_glue) if not o.startswith("method=")]
    spec = {"title": "t", "reports": "best dev epoch", "columns": ["rte"], "seeds": [0], "common": common, "rows": rows}
    path.write_text(yaml.safe_dump(spec))
    return path


GOOD_ROW = {"label": "good", "overrides": ["method=bca"]}
REPRODUCE_CASES = [  # (second row's overrides, user overrides, key words of the one-line reason)
    ("bad-block-size-in-one-row", ["method.block_size=7"], [], ["[row=bad", "block_size=7 does not divide"]),
    ("missing-data", [], ["task.data_dir=/no/tiny_glue"], ["GLUE file not found", "/no/tiny_glue/RTE/train.tsv"]),
    ("bad-value", [], ["method.lr=nan"], ["[every job] method.lr=nan", "finite number > 0"]),
    ("switch-not-bool", [], ["method.divide_lr_by_block_size=2"], ["block_size=2", "true or false"]),
]


@pytest.mark.parametrize("row,extra,words", [c[1:] for c in REPRODUCE_CASES], ids=[c[0] for c in REPRODUCE_CASES])
def test_reproduce_checks_every_cell_before_the_first_run(row, extra, words, tiny_glue, tmp_path, capsys):
    table = _table(tmp_path, tiny_glue, [GOOD_ROW, {"label": "bad", "overrides": ["method=bca", *row]}])
    results = tmp_path / "results"
    code = reproduce.main([str(table), f"results_dir={results}", *extra])
    err = capsys.readouterr().err
    assert code == 2 and "invalid cells, nothing ran" in err and "Traceback" not in err, err
    one_line_with(err, *words)
    assert not results.exists()


def test_reproduce_takes_overrides_after_options(tiny_glue, tmp_path, capsys):
    """The README's CPU-scale example: options (--seeds, --rows, --tasks) between the overrides."""
    rows = [{"label": "base C3A b=d", "overrides": ["method=c3a"]}, {"label": "base LoRA r=8", "overrides": []}]
    table = _table(tmp_path, tiny_glue, rows)
    argv = [
        str(table), "trainer.max_steps=2", "--seeds", "0", "--rows", "base C3A b=d,base LoRA r=8", "--tasks", "rte",
        f"task.data_dir={tiny_glue}", f"results_dir={tmp_path / 'results'}", "--dry-run",
    ]  # fmt: skip
    assert reproduce.main(argv) == 0
    out = capsys.readouterr().out
    assert "2 runs, 0 already finished" in out and out.count("[todo]") == 2
