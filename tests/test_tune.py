"""``bca-reproduce --tune``: grid points on held-out training data, a choice derived from records, final seeds at it.

The choice is checked against the grid records themselves (argmax of their best-epoch held-out score, ties to
the smaller lr), the table against the chosen value, and a rerun against the file system (nothing re-runs).
"""

import yaml

from bca.cli import bca_reproduce as reproduce
from bca.cli import bca_table
from bca.paper import experiments, tune
from bca.report import tables
from bca.run import records

TINY = {
    "title": "tiny tuned table",
    "reports": "best dev epoch",
    "columns": ["rotten_tomatoes"],
    "seeds": [0, 1],
    "tune": {"protocol": "holdout", "holdout": 8, "seed": 0},
    "common": [
        "model=tiny-roberta", "logger=disabled", "task.max_train_samples=32", "task.max_eval_samples=16",
        "trainer.batch_size=8", "trainer.epochs=1", "trainer.max_length=24", "trainer.progress=false",
    ],
    "rows": [
        {"label": "LoRA", "overrides": ["method=lora"], "grid": {"method.lr": ["1e-3", "1e-1"]}},
        {"label": "BCA p=16", "overrides": ["method=bca", "method.block_size=16"],
         "grid": {"method.lr": [1.0e-2, 1.0]}, "seeds": [0]},
    ],
}  # fmt: skip


def rec(label, lr, score, status="ok", holdout=0.1, seed=0, task="rte"):
    return {
        "status": status,
        "config": {
            "tags": [f"row:{label}"], "task": {"name": task, "holdout": holdout},
            "trainer": {"seed": seed}, "method": {"lr": lr}, "model": {"name": "m"},
        },
        "metrics": {"metric_for_best": "accuracy", "best": None if score is None else {"eval": {"accuracy": score}}},
    }  # fmt: skip


ROW = experiments.Row("R", (), {}, grid={"method.lr": (1e-4, 1e-3, 1e-2)})
TUNE = experiments.Tune()


def test_the_best_point_wins_and_ties_go_to_the_smaller_lr():
    found = [rec("R", 1e-4, 0.70), rec("R", 1e-3, 0.75), rec("R", 1e-2, 0.75)]
    choice = tune.choose(ROW, "rte", found, TUNE)
    assert choice.point == (("method.lr", 1e-3),) and choice.edges == []


def test_a_choice_at_the_end_of_the_grid_is_flagged():
    found = [rec("R", 1e-4, 0.70), rec("R", 1e-3, 0.71), rec("R", 1e-2, 0.72)]
    choice = tune.choose(ROW, "rte", found, TUNE)
    assert choice.point == (("method.lr", 1e-2),) and choice.edges == ["method.lr"]
    assert "widen" in choice.describe()


def test_no_choice_until_every_point_is_final_and_diverged_points_never_win():
    assert tune.choose(ROW, "rte", [rec("R", 1e-4, 0.7), rec("R", 1e-3, 0.8)], TUNE).point is None
    found = [rec("R", 1e-4, 0.6), rec("R", 1e-3, None, "diverged"), rec("R", 1e-2, 0.5)]
    assert tune.choose(ROW, "rte", found, TUNE).point == (("method.lr", 1e-4),)


def test_dev_scored_runs_other_seeds_and_other_tasks_are_not_selection_runs():
    noise = [rec("R", 1e-2, 0.99, holdout=None), rec("R", 1e-2, 0.99, seed=1), rec("R", 1e-2, 0.99, task="cola")]
    found = [rec("R", 1e-4, 0.70), rec("R", 1e-3, 0.75), rec("R", 1e-2, 0.60), *noise]
    assert tune.choose(ROW, "rte", found, TUNE).point == (("method.lr", 1e-3),)
    # the papers' protocol reads the dev-scored runs instead
    dev = [rec("R", lr, s, holdout=None) for lr, s in ((1e-4, 0.5), (1e-3, 0.6), (1e-2, 0.9))]
    assert tune.choose(ROW, "rte", dev, experiments.Tune(protocol="dev")).point == (("method.lr", 1e-2),)


def test_a_loss_is_selected_lowest_over_its_evaluations():
    def loss_rec(lr, losses):
        r = rec("R", lr, 0.5)
        r["metrics"]["epochs"] = [{"epoch": i + 1, "eval": {"heldout_loss": v}} for i, v in enumerate(losses)]
        return r

    found = [loss_rec(1e-4, [2.0, 1.9]), loss_rec(1e-3, [1.8, 1.5, 1.7]), loss_rec(1e-2, [1.6, 1.6])]
    choice = tune.choose(ROW, "rte", found, experiments.Tune(metric="heldout_loss"))
    assert choice.point == (("method.lr", 1e-3),) and [s.score for s in choice.scores] == [1.9, 1.5, 1.6]


def test_tune_end_to_end_selects_on_held_out_data_runs_the_seeds_and_reruns_nothing(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    results = tmp_path / "results"
    argv = [str(path), f"results_dir={results}", "--tune"]
    assert reproduce.main(argv) == 0
    written = {p: r for p, r in records.iter_records(results / "records")}
    grid = [r for r in written.values() if r["config"]["task"]["holdout"] is not None]
    finals = [r for r in written.values() if r["config"]["task"]["holdout"] is None]
    assert len(grid) == 4 and len(finals) == 3  # 2 rows x 2 points; LoRA x 2 seeds + BCA x 1
    assert all(r["config"]["trainer"]["seed"] == 0 and r["config"]["task"]["holdout"] == 8 for r in grid)
    for label in ("LoRA", "BCA p=16"):
        mine = [r for r in grid if r["config"]["tags"] == [f"row:{label}"]]
        # by hand: highest held-out score, ties to the smaller lr
        best = min(mine, key=lambda r: (-r["metrics"]["best"]["eval"]["accuracy"], r["config"]["method"]["lr"]))
        lrs = {r["config"]["method"]["lr"] for r in finals if r["config"]["tags"] == [f"row:{label}"]}
        assert lrs == {best["config"]["method"]["lr"]}
    mtimes = {p: p.stat().st_mtime_ns for p in written}

    capsys.readouterr()
    assert reproduce.main(argv) == 0  # rerun: the same choice from the records, nothing trains again
    assert {p: p.stat().st_mtime_ns for p in results.joinpath("records").glob("*.json")} == mtimes
    assert "chose method.lr=" in capsys.readouterr().out

    table = tables.build([r for _, r in records.iter_records(results)], experiments.load(str(path)))
    assert table.held_out_runs == 4 and {r.label: r.cells["rotten_tomatoes"].n for r in table.rows} == {
        "LoRA": 2, "BCA p=16": 1,
    }  # fmt: skip
    out = tmp_path / "t.md"
    assert bca_table.main([str(results), "--experiment", str(path), "--out", str(out)]) == 0
    text = out.read_text()
    lora_lr = next(iter({r["config"]["method"]["lr"] for r in finals if r["config"]["tags"] == ["row:LoRA"]}))
    chosen = [ln for ln in text.splitlines() if ln.startswith("|   chosen")]
    assert f"lr={experiments.override_value(lora_lr)}" in chosen[0] and "held-out" in text
    # a grid of two points and no tune.widen: every choice is an end of its grid, and the table says so
    assert all(ln.rstrip(" |").endswith("(edge)") for ln in chosen) and len(chosen) == 2
    tuning = tmp_path / "tuning.md"
    assert bca_table.main([str(results), "--experiment", str(path), "--tuning", "--out", str(tuning)]) == 0
    assert tuning.read_text().count("**lr=") == 2  # one bold (chosen) point per row


def test_tune_refuses_a_command_line_that_fixes_the_tuned_key(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    assert reproduce.main([str(path), f"results_dir={tmp_path}", "--tune", "method.lr=0.01"]) == 2
    assert "fixes ['method.lr=0.01']" in capsys.readouterr().err and not (tmp_path / "records").exists()


def test_dry_run_lists_grid_points_and_pending_finals(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    assert reproduce.main([str(path), f"results_dir={tmp_path}", "--tune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("(grid)") == 4 and out.count("[after tuning]") == 2 and not (tmp_path / "records").exists()


def test_the_shipped_minilm_glue_grid_runs_end_to_end_at_tiny_scale(glue_dir, tmp_path, capsys):
    """The real experiment file, its LoRA row's grid on RTE, shrunk to a tiny model and a few steps."""
    results = tmp_path / "results"
    tiny = ["model=tiny-bert", "task.max_train_samples=40", "task.max_eval_samples=16", "trainer.max_steps=2",
            "trainer.max_length=32", "logger=disabled", "trainer.progress=false"]  # fmt: skip
    argv = ["minilm_glue", "--tune", "--rows", "LoRA r=8", "--tasks", "rte", f"task.data_dir={glue_dir}",
            f"results_dir={results}", *tiny]  # fmt: skip
    assert reproduce.main(argv) == 0
    found = [r for _, r in records.iter_records(results / "records")]
    grid = [r for r in found if r["config"]["task"]["holdout"] == 0.1]
    finals = [r for r in found if r["config"]["task"]["holdout"] is None]
    exp = experiments.load("minilm_glue")
    lora = next(r for r in exp.rows if r.label == "LoRA r=8")
    choice = tune.choose(lora, "rte", grid, exp.tune)
    assert len(lora.grid_for("rte")["method.lr"]) >= 3 and len(choice.widened) <= exp.tune.widen
    wanted = sorted([*lora.grid_for("rte")["method.lr"], *(v for _, v in choice.widened)])
    assert sorted(r["config"]["method"]["lr"] for r in grid) == wanted  # the file's grid + what tune.widen added
    best = min(grid, key=lambda r: (-r["metrics"]["best"]["eval"]["accuracy"], r["config"]["method"]["lr"]))
    assert sorted(r["config"]["trainer"]["seed"] for r in finals) == [0, 1, 2]
    assert {r["config"]["method"]["lr"] for r in finals} == {best["config"]["method"]["lr"]}
    out = tmp_path / "t.md"
    assert bca_table.main([str(results), "--experiment", "minilm_glue", "--out", str(out)]) == 0
    chosen = next(ln for ln in out.read_text().splitlines() if ln.startswith("|   chosen"))
    assert f"lr={experiments.override_value(best['config']['method']['lr'])}" in chosen
    mtimes = {p: p.stat().st_mtime_ns for p in (results / "records").glob("*.json")}
    assert reproduce.main(argv) == 0  # a rerun skips every run
    assert {p: p.stat().st_mtime_ns for p in (results / "records").glob("*.json")} == mtimes
