"""The held-out selection split: seeded, stratified, disjoint from what trains, and never the dev split."""

import collections

import datasets
import numpy as np
import pytest

from bca.config.hydra_app import compose
from bca.tasks.base import TaskDataError
from bca.tasks.holdout import split_indices
from bca.tasks.registry import load_task


def test_classes_are_split_in_proportion_and_the_split_is_a_partition():
    labels = [0] * 700 + [1] * 300
    train, held = split_indices(1000, 0.1, seed=3, labels=labels, num_labels=2)
    assert len(held) == 100 and len(train) == 900
    assert sorted(train + held) == list(range(1000))  # disjoint and complete
    counts = collections.Counter(labels[i] for i in held)
    assert counts == {0: 70, 1: 30}  # exactly the training proportions
    assert held == sorted(held)  # file order kept


def test_seeded_and_seed_dependent():
    labels = [i % 3 for i in range(300)]
    a = split_indices(300, 30, seed=0, labels=labels, num_labels=3)
    assert a == split_indices(300, 30, seed=0, labels=labels, num_labels=3)
    assert a[1] != split_indices(300, 30, seed=1, labels=labels, num_labels=3)[1]


def test_regression_labels_are_stratified_by_quantile_bins():
    rng = np.random.default_rng(0)
    scores = np.sort(rng.uniform(0, 5, 500))  # sorted: a plain first-N or unlucky draw would be lopsided
    _, held = split_indices(500, 0.2, seed=0, labels=scores.tolist(), num_labels=1)
    bins = np.digitize(scores[held], np.quantile(scores, [0.2, 0.4, 0.6, 0.8]))
    assert collections.Counter(bins.tolist()) == {b: 20 for b in range(5)}


@pytest.mark.parametrize("holdout", [0, -0.1, 1000, 999.5e3])
def test_a_holdout_that_leaves_no_side_is_refused_with_the_valid_range(holdout):
    with pytest.raises(TaskDataError, match=r"task.holdout"):
        split_indices(1000, holdout, seed=0)


def test_a_tuning_run_is_scored_on_training_rows_and_never_sees_dev():
    common = ["task=rotten_tomatoes", "task.max_train_samples=200", "logger=disabled"]
    full = load_task(compose(common).task)
    tuning = load_task(compose([*common, "task.holdout=0.25"]).task)
    train_text = set(full.train["sentence1"])
    assert len(tuning.eval) == 50 and len(tuning.train) == 150
    assert set(tuning.eval["sentence1"]) <= train_text  # scored on held-out training rows ...
    assert not set(tuning.eval["sentence1"]) & set(tuning.train["sentence1"])  # ... it did not train on
    assert not set(tuning.eval["sentence1"]) & set(full.eval["sentence1"])  # ... and not on dev
    assert isinstance(tuning.eval, datasets.Dataset)
