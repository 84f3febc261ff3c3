"""Decoder selection runs (``bca-reproduce --tune`` on an instruction task): the held-out loss that picks the lr
is measured on the held-out training slice, never on the test problems, and such a run may skip generation."""

import pytest
from test_instruct_heldout import RUN

from bca.config.hydra_app import compose
from bca.paper import experiments, tune
from bca.report.protocol import describe_protocol
from bca.run.fit import best_epoch
from bca.run.runner import run
from bca.tasks.registry import TaskDataError, load_task

SYNTH = ["task=gsm8k_synthetic", "task.max_train_samples=40", "task.max_eval_samples=10"]


def load(*overrides):
    return load_task(compose(list(overrides)).task)


def test_selection_run_takes_its_loss_rows_from_the_held_out_training_slice():
    full = load(*SYNTH, "task.heldout_loss_samples=5")
    tuning = load(*SYNTH, "task.heldout_loss_samples=5", "task.holdout=10", "task.holdout_seed=3")
    test_problems = set(full.eval["instruction"])
    training = set(full.train["instruction"])
    assert full.heldout["instruction"] == full.eval["instruction"][:5]  # a final run: the first test problems
    rows = tuning.heldout["instruction"]
    assert len(rows) == 5 and rows == tuning.eval["instruction"][:5]  # the first rows of the slice it is scored on
    assert set(rows) <= training and not set(rows) & test_problems  # training problems, none of them a test one
    assert not set(rows) & set(tuning.train["instruction"])  # and none of them trained on
    assert tuning.heldout["response"] == tuning.eval["response"][:5]  # the reference solutions are the targets


def test_more_loss_rows_than_the_slice_holds_is_a_clear_error():
    with pytest.raises(TaskDataError, match=r"heldout_loss_samples=8 but the held-out slice .* has 4 rows"):
        load(*SYNTH, "task.heldout_loss_samples=8", "task.holdout=4")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.generate=false"], "task.generate=false reports no accuracy: set task.metric_for_best=heldout_loss"),
        (["task.metric_for_best=heldout_loss"], "metric_for_best=heldout_loss needs task.heldout_loss_samples > 0"),
        (["task.metric_for_best=loss"], "is not reported; valid: \\['accuracy', 'answered', 'heldout_loss'\\]"),
    ],
)
def test_bad_generation_keys_are_one_line_errors(overrides, message):
    with pytest.raises(TaskDataError, match=message):
        load(*SYNTH, *overrides)


def test_a_classifier_refuses_generate_false():
    with pytest.raises(TaskDataError, match="task.generate=false applies to instruction tasks"):
        load("task=rotten_tomatoes", "task.max_train_samples=20", "task.max_eval_samples=10", "task.generate=false")


def test_best_epoch_of_a_loss_is_its_lowest():
    epochs = [{"epoch": i + 1, "eval": {"heldout_loss": v, "accuracy": a}} for i, (v, a) in
              enumerate([(2.0, 0.1), (1.5, 0.0), (1.5, 0.3), (1.7, 0.2)])]  # fmt: skip
    assert best_epoch(epochs, "heldout_loss")["epoch"] == 2  # lowest, earliest on the tie
    assert best_epoch(epochs, "accuracy")["epoch"] == 3  # highest


def test_a_run_without_generation_records_only_the_losses(tmp_path):
    cfg = compose([*RUN, "method=lora", "task.generate=false", "task.metric_for_best=heldout_loss",
                   f"results_dir={tmp_path}"])  # fmt: skip
    record = run(cfg)
    assert record["status"] == "ok", record["error"]
    metrics = record["metrics"]
    for entry in metrics["epochs"]:
        assert set(entry["eval"]) == {"heldout_loss", "general_loss", "forgetting"}  # no accuracy, no answered
    lowest = min(metrics["epochs"], key=lambda e: e["eval"]["heldout_loss"])
    assert metrics["metric_for_best"] == "heldout_loss" and metrics["best"]["epoch"] == lowest["epoch"]
    generating = run(compose([*RUN, "method=lora", f"results_dir={tmp_path / 'g'}"]))
    assert generating["metrics"]["epochs"][-1]["eval"]["heldout_loss"] == pytest.approx(
        metrics["epochs"][-1]["eval"]["heldout_loss"], rel=1e-6
    )  # generating or not, the same training and the same loss
    assert generating["run_id"] != record["run_id"]


EXPERIMENT = {
    "title": "t",
    "reports": "r",
    "columns": ["gsm8k_synthetic"],
    "seeds": [0, 1],
    "tune": {"metric": "heldout_loss", "overrides": ["task.generate=false", "task.metric_for_best=heldout_loss"]},
    "common": ["model=tiny-llama", "task.heldout_loss_samples=3"],
    "rows": [
        {"label": "zero-shot", "overrides": ["method=lora", "trainer.max_steps=0"]},
        {"label": "LoRA", "overrides": ["method=lora"], "grid": {"method.lr": [1.0e-3, 1.0e-2]}},
    ],
}


def _experiment(tmp_path, **tune_keys):
    import yaml

    data = {**EXPERIMENT, "tune": {**EXPERIMENT["tune"], **tune_keys}}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return experiments.load(str(path))


def test_tune_overrides_go_to_selection_runs_only_and_rows_without_a_grid_are_not_tuned(tmp_path):
    experiment = _experiment(tmp_path)
    grid = tune.tuning_cells(experiment)
    assert {c.row for c in grid} == {"LoRA"} and len(grid) == 2  # the zero-shot row has nothing to select
    for c in grid:
        assert "task.generate=false" in c.overrides and "task.metric_for_best=heldout_loss" in c.overrides
        assert "task.holdout=0.1" in c.overrides
    finals = experiments.cells(experiment, points={("LoRA", "gsm8k_synthetic"): (("method.lr", 1.0e-3),)})
    assert finals and not any("task.generate=false" in c.overrides for c in finals)


def _record(lr, loss, generate=False):
    config = {"task": {"name": "gsm8k_synthetic", "holdout": 0.1, "metric_for_best": "heldout_loss"},
              "trainer": {"seed": 0}, "method": {"lr": lr}, "tags": ["row:LoRA"]}  # fmt: skip
    if generate is not None:
        config["task"]["generate"] = generate
    epochs = [{"epoch": 1, "eval": {"heldout_loss": loss}}]
    return {"status": "ok", "config": config, "metrics": {"epochs": epochs, "metric_for_best": "heldout_loss"}}


def test_selection_ignores_runs_made_under_other_tune_overrides(tmp_path):
    experiment = _experiment(tmp_path)
    (row,) = [r for r in experiment.rows if r.label == "LoRA"]
    ours = [_record(1.0e-3, 1.2), _record(1.0e-2, 1.1)]
    choice = tune.choose(row, "gsm8k_synthetic", ours, experiment.tune)
    assert choice.point == (("method.lr", 1.0e-2),)
    generated = [_record(1.0e-3, 0.9, generate=None), _record(1.0e-2, 1.1)]  # absent key: the default, true
    choice = tune.choose(row, "gsm8k_synthetic", generated, experiment.tune)
    assert choice.point is None  # 1e-3 has no run under these overrides yet: the grid is not complete


@pytest.mark.parametrize("bad", [["task.generate"], "task.generate=false", [3]])
def test_bad_tune_overrides_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="tune.overrides="):
        _experiment(tmp_path, overrides=bad)


def test_tuning_table_of_a_loss_prints_nats_and_bolds_the_lowest(tmp_path):
    from bca.report.render_tuning import tuning_table

    experiment = _experiment(tmp_path)
    found = [_record(1.0e-3, 1.2345), _record(1.0e-2, 1.1)]
    for r in found:
        r["config"].update(experiment=experiment.name, model={"name": "tiny-llama"})
    text = tuning_table(found, experiment)
    assert "score = the selection run's held-out heldout_loss (nats/token, lower is better)" in text
    assert "| LoRA | tiny-llama | gsm8k_synthetic | lr=0.001: 1.2345 · **lr=0.01: 1.1000** | lr=0.01 (edge) |" in text
    assert "constant predictor" not in text  # a loss has no majority-class line


def test_the_protocol_line_names_the_selection_figure(tmp_path):
    line = describe_protocol(_experiment(tmp_path))
    assert line.startswith("grid values chosen per (row, task) by heldout_loss on a seeded held-out 10% of the")
    assert "stratified by label where the task has labels" in line and "never on dev" in line
