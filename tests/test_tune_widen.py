"""``tune.widen``: a choice at an end of the grid adds the next log-step point beyond it and waits for it.

Checked by hand on a 3-point grid x3 apart (1e-4, 3e-4, 1e-3): the next point up is 1e-3 * 1e-3 / 3e-4 =
3.3e-3, down 1e-4 * 1e-4 / 3e-4 = 3.3e-5 (2 significant digits), and end to end with a fake trainer whose
held-out score is a known function of the lr, so where the search must stop is known in advance.
"""

import math

import pytest
import yaml

from bca.cli import bca_reproduce as reproduce
from bca.paper import experiments, tune
from bca.run import records

ROW = experiments.Row("R", (), {}, grid={"method.lr": (1e-4, 3e-4, 1e-3)})


def rec(lr, score, holdout=0.1, seed=0):
    return {
        "status": "ok",
        "config": {"tags": ["row:R"], "task": {"name": "rte", "holdout": holdout}, "trainer": {"seed": seed},
                   "method": {"lr": lr}, "model": {"name": "m"}},
        "metrics": {"metric_for_best": "accuracy", "best": {"eval": {"accuracy": score}}},
    }  # fmt: skip


def test_next_value_steps_at_the_ratio_of_that_end():
    assert tune.next_value((1e-4, 3e-4, 1e-3), 1e-3) == pytest.approx(3.3e-3, rel=1e-12)
    assert tune.next_value((1e-4, 3e-4, 1e-3), 1e-4) == pytest.approx(3.3e-5, rel=1e-12)
    assert tune.next_value(("adamw", "sgd"), "sgd") is None and tune.next_value((0.0, 1.0), 1.0) is None


def test_an_edge_choice_waits_for_the_point_beyond_it_then_stops_at_the_budget():
    widen1, widen2 = experiments.Tune(widen=1), experiments.Tune(widen=2)
    up = [rec(1e-4, 0.6), rec(3e-4, 0.7), rec(1e-3, 0.8)]  # best at the upper end
    waiting = tune.choose(ROW, "rte", up, widen1)
    assert waiting.point is None and waiting.widened == [("method.lr", 3.3e-3)]
    assert [s.status for s in waiting.scores] == ["ok", "ok", "ok", None]  # the new point: todo
    interior = tune.choose(ROW, "rte", [*up, rec(3.3e-3, 0.75)], widen1)
    assert interior.point == (("method.lr", 1e-3),) and interior.edges == []
    still_rising = [*up, rec(3.3e-3, 0.9)]
    capped = tune.choose(ROW, "rte", still_rising, widen1)
    assert capped.point == (("method.lr", 3.3e-3),) and capped.edges == ["method.lr"]  # flagged: widen it
    assert "grid widened with method.lr=0.0033" in capped.describe() and "widen it" in capped.describe()
    again = tune.choose(ROW, "rte", still_rising, widen2)
    assert again.point is None and again.widened[-1] == ("method.lr", pytest.approx(0.011))  # 3.3e-3^2 / 1e-3
    down = tune.choose(ROW, "rte", [rec(1e-4, 0.9), rec(3e-4, 0.7), rec(1e-3, 0.6)], widen1)
    assert down.widened == [("method.lr", 3.3e-5)]
    assert tune.choose(ROW, "rte", up, experiments.Tune()).point == (("method.lr", 1e-3),)  # widen 0: as before


EXP = {
    "title": "widen", "reports": "r", "columns": ["rotten_tomatoes"], "seeds": [0, 1],
    "tune": {"protocol": "holdout", "holdout": 8, "seed": 0, "widen": 2},
    "common": ["model=tiny-roberta", "logger=disabled", "task.max_train_samples=32", "task.max_eval_samples=16",
               "trainer.batch_size=8", "trainer.epochs=1", "trainer.max_length=24", "trainer.progress=false"],
    "rows": [{"label": "LoRA", "overrides": ["method=lora"], "grid": {"method.lr": [1e-4, 1e-3]}}],
}  # fmt: skip


def fake_score(lr: float) -> float:
    """Peaks at lr = 1e-1 (log scale): from the grid [1e-4, 1e-3] the search must step up 1e-2, then 1e-1."""
    return 0.9 - 0.05 * abs(math.log10(lr) + 1)


def test_reproduce_runs_the_widened_points_then_the_seeds_at_the_choice(tmp_path, monkeypatch, capsys):
    ran = []

    def fake_run(cfg, force=False):  # a finished record whose held-out score is fake_score(lr); no training
        from omegaconf import OmegaConf

        config = OmegaConf.to_container(cfg, resolve=True)
        ran.append((config["method"]["lr"], config["trainer"]["seed"], config["task"]["holdout"]))
        record = {
            "schema_version": records.SCHEMA_VERSION, "run_id": records.run_id(config), "status": "ok",
            "config": config, "params": {"adapter": 1, "head": 1, "trainable": 2, "total": 3},
            "metrics": {"metric_for_best": "accuracy", "epochs": [],
                        "best": {"epoch": 1, "eval": {"accuracy": fake_score(config["method"]["lr"])}}},
        }  # fmt: skip
        records.write_record(records.record_path(cfg.results_dir, record["run_id"]), record)
        return record

    monkeypatch.setattr("bca.run.runner.run", fake_run)
    path = tmp_path / "widen.yaml"
    path.write_text(yaml.safe_dump(EXP))
    assert reproduce.main([str(path), "--tune", f"results_dir={tmp_path / 'r'}"]) == 0
    grid = sorted(lr for lr, _, holdout in ran if holdout is not None)
    assert grid == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])  # 1e-3 at the edge -> 1e-2 -> 1e-1, still an edge: cap
    finals = sorted((seed, lr) for lr, seed, holdout in ran if holdout is None)
    assert finals == [(0, pytest.approx(0.1)), (1, pytest.approx(0.1))]
    out = capsys.readouterr().out
    assert "added lr=0.01" in out and "added lr=0.1" in out and "widen it" in out
    ran.clear()
    assert reproduce.main([str(path), "--tune", f"results_dir={tmp_path / 'r'}"]) == 0
    assert ran == []  # a rerun finds the same widened grid done and the seeds done
    capsys.readouterr()
    assert reproduce.main([str(path), "--tune", "--dry-run", f"results_dir={tmp_path / 'r'}"]) == 0
    assert "6 of 6 runs finished, 0 to run" in capsys.readouterr().out  # both added points counted, as done
