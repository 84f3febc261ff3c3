"""Experiment files: every shipped paper table parses, every cell composes, and the data match papers.md."""

import pytest

from bca.paper import experiments
from bca.paper.reproduce_cells import compose_cells

# The papers' own avg columns (../shared/papers.md): an independent check on the transcribed numbers.
PUBLISHED_AVG = {
    ("fourierft_table2", "base LoRA"): 85.2,
    ("fourierft_table2", "base FourierFT"): 85.0,
    ("fourierft_table2", "large LoRA"): 87.8,
    ("fourierft_table2", "large FourierFT"): 88.0,
    ("vera_table2", "base VeRA"): 85.2,
    ("vera_table2", "large VeRA"): 87.8,
    ("c3a_table2", "base LoRA r=8"): 83.35,
    ("c3a_table2", "base VeRA r=1024"): 83.38,
    ("c3a_table2", "base C3A b=d"): 83.34,
    ("c3a_table2", "base C3A b=128"): 83.84,
    ("c3a_table2", "large LoRA r=8"): 85.96,
    ("c3a_table2", "large VeRA r=256"): 85.91,
    ("c3a_table2", "large C3A b=d"): 86.56,
    ("c3a_table2", "large C3A b=128"): 86.96,
}


def _check_composes(exp, cells):
    composed = compose_cells(exp, cells)
    for cell, cfg, _ in composed:
        assert cfg.task.name == cell.task
        assert cfg.experiment == exp.name
        assert list(cfg.tags) == [experiments.ROW_TAG + cell.row]


@pytest.mark.parametrize("name", experiments.available())
def test_every_row_composes(name):
    exp = experiments.load(name)
    first = {}
    for cell in experiments.cells(exp, seeds=[exp.seeds[0]]):
        first.setdefault(cell.row, cell)
    _check_composes(exp, list(first.values()))


@pytest.mark.slow
@pytest.mark.parametrize("name", experiments.available())
def test_every_cell_composes(name):
    exp = experiments.load(name)
    cells = experiments.cells(exp, seeds=[exp.seeds[0]])
    assert len(cells) == len(exp.rows) * len(exp.columns)
    _check_composes(exp, cells)


@pytest.mark.parametrize(("name", "label"), sorted(PUBLISHED_AVG))
def test_published_numbers_reproduce_the_papers_average(name, label):
    row = next(r for r in experiments.load(name).rows if r.label == label)
    values = list(row.published.values())
    assert len(values) == 6
    # The papers round their averages (half up) to their own number of decimals.
    decimals = len(str(PUBLISHED_AVG[(name, label)]).split(".")[1])
    assert abs(sum(values) / 6 - PUBLISHED_AVG[(name, label)]) <= 0.5 * 10**-decimals + 1e-9


def test_paper_hyperparameters_reach_the_config():
    exp = experiments.load("fourierft_table2")
    cell = next(c for c in experiments.cells(exp, seeds=[0]) if c.row == "base FourierFT" and c.task == "cola")
    ((_, cfg, _),) = compose_cells(exp, [cell])
    assert (cfg.method.lr, cfg.method.head_lr, cfg.method.scaling, cfg.trainer.epochs) == (0.12, 0.008, 49.0, 100)


def test_user_overrides_win_and_replace_group_choices():
    exp = experiments.load("fourierft_table2")
    cells = experiments.cells(exp, ["model=minilm-l6", "trainer.epochs=3"], [7], ["base FourierFT"], ["rte"])
    (_, cfg, _), *_ = compose_cells(exp, cells)
    assert cfg.model.name == "minilm-l6" and cfg.trainer.epochs == 3 and cfg.trainer.seed == 7


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(experiments.ExperimentError, match="valid: .*fourierft_table2"):
        experiments.load("fourierft_table9")


def test_a_bad_override_is_reported_for_every_cell_before_any_run():
    exp = experiments.load("vera_table2")
    cells = experiments.cells(exp, ["method.rank=4"], seeds=[0], tasks=["rte", "mrpc"])
    with pytest.raises(experiments.ExperimentError, match="4 cell"):
        compose_cells(exp, cells)


def test_a_malformed_experiment_file_names_the_file_and_the_line(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("title: t\nreports: 3 epochs (CoLA: 2000)\ncolumns: [rte]\n")
    with pytest.raises(experiments.ExperimentError, match=r"(?s)mine\.yaml: not valid YAML.*line 2"):
        experiments.load(str(bad))
