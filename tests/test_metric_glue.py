"""The local GLUE metric module against scikit-learn / scipy on random inputs, loaded with no hub."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from bca.tasks.glue import GLUE_TASKS
from bca.tasks.metrics import GLUE_METRIC_DIR, glue_metric_outputs, load_glue_metric, metric_names


def _labels(rng, n=300, k=2):
    return rng.integers(0, k, n), rng.integers(0, k, n)


@pytest.mark.parametrize("task", ["cola", "mrpc", "qqp", "rte", "mnli", "rotten_tomatoes"])
def test_classification_metrics_match_sklearn(task):
    rng = np.random.default_rng(sum(map(ord, task)))  # fixed per task (str hash is salted)
    k = 3 if task == "mnli" else 2
    refs, preds = _labels(rng, k=k)
    preds[:150] = refs[:150]  # correlated, so MCC/F1 are far from 0
    out = load_glue_metric(task).compute(predictions=preds, references=refs)
    expected = {
        "accuracy": accuracy_score(refs, preds),
        "f1": f1_score(refs, preds) if k == 2 else None,
        "matthews_correlation": matthews_corrcoef(refs, preds),
    }
    assert set(out) == set(metric_names(task))
    for key, value in out.items():
        assert isinstance(value, float) and value == pytest.approx(expected[key], abs=1e-12)


def test_stsb_matches_scipy():
    rng = np.random.default_rng(0)
    refs = rng.uniform(0, 5, 500)
    preds = refs + rng.normal(0, 1.0, 500)
    out = load_glue_metric("stsb").compute(predictions=preds, references=refs)
    assert set(out) == {"pearson", "spearmanr"}
    # inputs are stored as float32 (as in the hub metric), hence the tolerance
    assert out["pearson"] == pytest.approx(pearsonr(preds, refs)[0], abs=1e-6)
    assert out["spearmanr"] == pytest.approx(spearmanr(preds, refs)[0], abs=1e-6)


def test_loads_by_path_without_network(monkeypatch):
    import socket

    import evaluate

    def no_network(*args, **kwargs):
        pytest.fail("the local metric tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    metric = evaluate.load(str(GLUE_METRIC_DIR), "sst2")
    assert metric.compute(predictions=[0, 1, 1, 1], references=[0, 1, 0, 1]) == {"accuracy": 0.75}


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"no GLUE metric for task 'sts'; valid: \[.*'stsb'"):
        load_glue_metric("sts")


def test_every_glue_task_has_its_main_metric():
    outputs = glue_metric_outputs()
    assert set(GLUE_TASKS) <= set(outputs) and outputs["rotten_tomatoes"] == ("accuracy",)
    for name, spec in GLUE_TASKS.items():
        assert spec.metric in outputs[name]
