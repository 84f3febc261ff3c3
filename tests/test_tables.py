"""Aggregation and rendering: statistics checked by hand, deterministic output, damaged records skipped."""

import dataclasses
import json
import random
import statistics

import pytest

from bca.cli.bca_table import main
from bca.paper import experiments
from bca.report.render import render
from bca.report.tables import build, find_records
from bca.run import records


def record(task, seed, value, status="ok", row=None, method="lora", model="minilm-l6", experiment="default"):
    cfg = {
        "model": {"name": model},
        "method": {"name": method, "r": 8},
        "task": {"name": task, "max_train_samples": None},
        "trainer": {"seed": seed, "epochs": 3, "max_steps": None},
        "experiment": experiment,
        "tags": [f"{experiments.ROW_TAG}{row}"] if row else [],
    }
    metric = "matthews_correlation" if task == "cola" else "accuracy"
    best = {"epoch": 2, "eval": {metric: value}} if status == "ok" else None
    return {
        "run_id": f"{task}-{seed}-{row}-{status}",
        "status": status,
        "config": cfg,
        "metrics": {"metric_for_best": metric, "best": best},
        "params": {"adapter": 12_288, "head": 10},
    }


def test_cell_statistics_match_a_hand_computation():
    values = [0.70, 0.74, 0.71]
    found = [record("rte", s, v) for s, v in enumerate(values)] + [record("rte", 9, None, status="diverged")]
    table = build(found)
    (row,) = table.rows
    cell = row.cells["rte"]
    assert row.label == "lora r=8" and cell.n == 3 and cell.not_ok == {"diverged": 1}
    assert cell.median == 71.0
    assert abs(cell.mean - 100 * statistics.fmean(values)) < 1e-9
    assert abs(cell.std - 100 * statistics.stdev(values)) < 1e-9


def test_paper_rows_diff_and_average_follow_the_experiment():
    exp = experiments.load("minilm_glue")
    # without the grids: a tuned row counts only records at its chosen point (tested in test_tune.py)
    exp = dataclasses.replace(exp, rows=tuple(dataclasses.replace(r, grid={}, grid_tasks={}) for r in exp.rows))
    values = {"rte": 0.60, "mrpc": 0.80, "stsb": 0.85, "cola": 0.30, "sst2": 0.90}
    assert set(values) == set(exp.columns)  # a number in every column, so the avg column is filled
    found = [record(t, 0, v, row="LoRA r=8", experiment="minilm_glue") for t, v in values.items()]
    found.append(record("rte", 0, 0.5, row="LoRA r=8", experiment="other"))  # another experiment: ignored
    table = build(found, exp)
    assert [r.label for r in table.rows] == [r.label for r in exp.rows]
    md = render(table, "md")
    ours_avg = 100 * sum(values.values()) / len(values)
    paper = exp.rows[0].published
    paper_avg = sum(paper.values()) / len(paper)
    lora_lines = [line for line in md.splitlines() if line.startswith("| LoRA r=8")]
    assert lora_lines and lora_lines[0].endswith(f"| {ours_avg:.2f} |")
    assert f"| {paper_avg:.2f} |" in md
    assert f"{100 * values['rte'] - paper['rte']:+.2f}" in md
    csv_text = render(table, "csv")
    assert "LoRA r=8,minilm-l6,rte,1,60.00,60.00,-,,76.68,-16.68,12288" in csv_text


def test_rendering_is_byte_identical_whatever_the_record_order():
    found = [record(t, s, random.Random(s).random(), row=f"r{s % 2}") for t in ("rte", "cola") for s in range(6)]
    outputs = set()
    for shuffle_seed in range(3):
        shuffled = found[:]
        random.Random(shuffle_seed).shuffle(shuffled)
        outputs.add(tuple(render(build(shuffled), f) for f in ("md", "csv", "tex")))
    assert len(outputs) == 1


def test_damaged_record_is_reported_and_skipped(tmp_path, capsys):
    good = record("rte", 0, 0.7)
    records.write_record(records.record_path(tmp_path, "good"), good)
    (records.records_dir(tmp_path) / "bad.json").write_text('{"run_id": "x", "status": "o')  # killed mid-write
    found, damaged = find_records(tmp_path)
    assert [r["run_id"] for r in found] == [good["run_id"]]
    assert damaged == [str(records.records_dir(tmp_path) / "bad.json")]
    assert main([str(tmp_path), "--format", "md"]) == 0
    out = capsys.readouterr()
    assert "damaged" in out.err and "skipped 1 damaged record" in out.out and "| 70.00 |" in out.out


def test_missing_directory_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "no records directory" in capsys.readouterr().err


def test_table_reads_real_json_written_by_the_record_writer(tmp_path):
    rec = record("cola", 0, 0.25)
    records.write_record(records.record_path(tmp_path, "a"), rec)
    found, _ = find_records(tmp_path / "records")
    assert found == [json.loads(json.dumps(rec))]


def test_pareto_front_against_a_hand_worked_example():
    from bca.report.plots import pareto_front

    points = [(100, 70.0), (50, 60.0), (200, 65.0), (400, 80.0), (50, 55.0), (300, 80.0)]
    assert pareto_front(points) == [(50, 60.0), (100, 70.0), (300, 80.0)]


def test_a_zero_shot_row_is_a_level_on_the_parameter_plot_not_a_point_at_its_untrained_adapter():
    from bca.report.frame import runs_frame
    from bca.report.plots import param_points

    found = []
    for label, seed, score, adapter, steps in (
        ("LoRA", 0, 0.70, 400, 10), ("LoRA", 1, 0.72, 400, 10), ("BCA", 0, 0.66, 40, 10), ("zero-shot", 0, 0.5, 400, 0)
    ):  # fmt: skip
        rec = record("rte", seed, score, row=label)
        rec["params"]["adapter"] = adapter
        rec["time"] = {"steps": steps}
        found.append(rec)
    points, baselines = param_points(runs_frame(found))
    assert points == {"BCA": (40, pytest.approx(66.0)), "LoRA": (400, pytest.approx(71.0))}  # medians over seeds
    assert baselines == {"zero-shot": pytest.approx(50.0)}


def test_plots_are_written_from_records(tmp_path):
    from bca.report.plots import write_all

    found = []
    for size, score in ((16, 0.6), (32, 0.7), (64, 0.65)):
        rec = record("rte", 0, score, method="bca")
        rec["config"]["method"] = {"name": "bca", "block_size": size}
        rec["params"]["adapter"] = 4096 // size
        rec["time"] = {"step_s": 0.01 * size}
        rec["metrics"]["epochs"] = [{"epoch": 1, "step": 10, "train_loss": 0.7, "eval": {"accuracy": score}}]
        found.append(rec)
    paths = write_all(found, tmp_path)
    assert sorted(p.name for p in paths) == ["block_size.png", "curves_rte.png", "score_vs_params.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
