"""The constant-predictor line (bca.tasks.trivial) and the one-sided tests against it (bca.report.stats), by hand.

p-values are checked against closed forms that do not use the code path under test: the binomial tail as an
exact fraction, Phi(-2) for MCC, and for Pearson the null distribution of r itself ((r + 1) / 2 ~ Beta(k, k),
k = (n - 2) / 2), a different formula from the t statistic the code uses.
"""

from collections import Counter

import pytest
from experiment_files import experiment_file
from scipy.stats import beta

from bca.report import render, render_tuning, tables
from bca.report.stats import at_trivial, p_above_trivial
from bca.tasks.trivial import eval_set_facts


def test_facts_are_the_majority_share_f1_of_answering_it_and_zero_correlations():
    assert eval_set_facts([1, 1, 1, 0], 2) == {"n": 4, "trivial": {"accuracy": 0.75, "matthews_correlation": 0.0,
                                                                 "f1": 2 * 0.75 / 1.75}}  # fmt: skip
    assert eval_set_facts([0, 0, 1], 2)["trivial"]["f1"] == 0.0  # the majority answer is the negative class
    three = eval_set_facts([2, 0, 2, 1, 2], 3)
    assert three == {"n": 5, "trivial": {"accuracy": 0.6, "matthews_correlation": 0.0}}
    assert eval_set_facts([0.5, 3.2, 4.0], 1) == {"n": 3, "trivial": {"pearson": 0.0, "spearmanr": 0.0}}
    assert eval_set_facts([], 2) is None and eval_set_facts(["x"], None) is None


def test_accuracy_is_an_exact_binomial_tail_over_the_majority_share():
    facts = {"n": 10, "trivial": {"accuracy": 0.5}}
    assert p_above_trivial("accuracy", 0.9, facts) == pytest.approx(11 / 1024, rel=1e-12)  # P(X >= 9), X ~ B(10, .5)
    assert p_above_trivial("accuracy", 0.5, facts) == pytest.approx(638 / 1024, rel=1e-12)  # P(X >= 5)
    assert at_trivial("accuracy", 0.9, facts) is False and at_trivial("accuracy", 0.5, facts) is True


def test_mcc_and_pearson_tests():
    assert p_above_trivial("matthews_correlation", 0.2, {"n": 100, "trivial": {"matthews_correlation": 0.0}}) == (
        pytest.approx(0.022750131948179, rel=1e-9)  # Phi(-2)
    )
    n, r = 11, 0.5
    by_beta = beta.sf((r + 1) / 2, (n - 2) / 2, (n - 2) / 2)
    assert p_above_trivial("pearson", r, {"n": n, "trivial": {"pearson": 0.0}}) == pytest.approx(by_beta, rel=1e-9)
    assert 0.05 < by_beta < 0.06  # so r = 0.5 on 11 pairs is "at the trivial predictor"
    assert p_above_trivial("f1", 0.5, {"n": 10, "trivial": {"accuracy": 0.5}}) is None  # no facts for f1: no test
    assert at_trivial("accuracy", 0.9, None) is None  # a record from before the facts existed


def rec(label, task, acc, seed, n=100, base=0.68, holdout=None):
    return {
        "status": "ok",
        "config": {
            "tags": [f"row:{label}"], "model": {"name": "m"}, "experiment": "exp",
            "task": {"name": task, "max_train_samples": None, "holdout": holdout},
            "trainer": {"seed": seed, "max_steps": 10, "epochs": 1}, "method": {"name": "lora", "r": 8, "lr": 0.1},
        },
        "metrics": {"metric_for_best": "accuracy", "best": {"eval": {"accuracy": acc}}},
        "params": {"adapter": 10},
        "eval_set": {"n": n, "trivial": {"accuracy": base}},
    }  # fmt: skip


def test_a_cell_whose_every_seed_sits_at_the_majority_class_is_marked():
    # n = 100, majority 68 %: 70 % is not above it (P(X >= 70) = 0.37), 80 % is (P(X >= 80) = 0.005)
    found = [rec("LoRA", "mrpc", a, s) for s, a in enumerate([0.80, 0.81, 0.82])]
    found += [rec("BCA", "mrpc", a, s) for s, a in enumerate([0.68, 0.70, 0.69])]
    found += [rec("VeRA", "mrpc", a, s) for s, a in enumerate([0.68, 0.80, 0.69])]  # one seed learned: no mark
    text = render.render(tables.build(found), "md")
    cells = {ln.split(" | ")[0].strip("| "): ln.split(" | ")[4] for ln in text.splitlines() if ln.startswith("| ")}
    assert cells["BCA"].endswith("n=3)*°") and not cells["VeRA"].endswith("°") and not cells["LoRA"].endswith("°")
    assert "° no seed of the cell beats the eval set's best constant predictor" in text
    csv = render.render(tables.build(found), "csv")
    assert next(ln for ln in csv.splitlines() if ln.startswith("BCA,")).endswith(",3/3")


EXPERIMENT = """
title: t
reports: r
seeds: [0]
columns: [mrpc]
tune: {protocol: holdout, holdout: 0.1, seed: 0}
rows:
  - {label: BCA, overrides: [method=bca], grid: {method.lr: [0.1, 0.3]}}
  - {label: LoRA, overrides: [method=lora], grid: {method.lr: [0.1, 0.3]}}
"""


def test_the_tuning_table_names_a_row_at_the_constant_predictor_at_every_grid_point(tmp_path):
    exp = experiment_file(tmp_path, EXPERIMENT, name="exp")
    found = []
    for label, scores in (("BCA", (0.69, 0.70)), ("LoRA", (0.69, 0.85))):
        for lr, acc in zip((0.1, 0.3), scores, strict=True):
            r = rec(label, "mrpc", acc, 0, holdout=0.1)
            r["config"]["method"]["lr"] = lr
            found.append(r)
    text = render_tuning.tuning_table(found, exp)
    assert "lr=0.1: 69.00°" in text and "**lr=0.3: 85.00**" in text
    assert text.rstrip().endswith("At the constant predictor at every grid point: BCA on mrpc (m) (their training "
                                  "curves: `plots/curves_<task>.png`).")  # fmt: skip
    assert Counter(ln.count("°") for ln in text.splitlines() if ln.startswith("| BCA"))[2] == 1
