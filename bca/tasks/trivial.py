"""What the best constant predictor scores on an eval set: the line a method must clear to have learned anything.

Why it is recorded: a GLUE cell at the majority class (MRPC 68.4, RTE 52.7) or at MCC / Pearson 0 reads like
a result but is a model that predicts one answer. The runner writes these facts into every classification
record (``record["eval_set"]``), and the tables test each score against them (``bca.report.stats``), so
"stays at the trivial predictor" is a computed statement, not an eyeballed one.

The constant predictor per metric: accuracy = the majority class's share; MCC = 0 (a constant prediction
has MCC 0 by the usual convention, and so does any prediction independent of the label); Pearson /
Spearman = 0 (undefined for a constant; 0 is what an input-independent predictor reaches in expectation);
F1 of the positive class = predicting the majority class, which is positive (2π / (1 + π)) or gives 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def eval_set_facts(labels: Sequence, num_labels: int | None) -> dict | None:
    """{"n": rows, "trivial": {metric: the best constant predictor's score}}; None for generative tasks."""
    if num_labels is None or not len(labels):
        return None
    n = len(labels)
    if num_labels == 1:  # regression (STS-B)
        return {"n": n, "trivial": {"pearson": 0.0, "spearmanr": 0.0}}
    counts = Counter(int(v) for v in labels)
    label, top = max(sorted(counts.items()), key=lambda kv: kv[1])
    trivial = {"accuracy": top / n, "matthews_correlation": 0.0}
    if num_labels == 2:  # F1 of class 1 when always answering the majority class
        positive = counts.get(1, 0) / n
        trivial["f1"] = 2 * positive / (1 + positive) if label == 1 else 0.0
    return {"n": n, "trivial": trivial}


def splits_facts(splits) -> dict | None:
    """``eval_set_facts`` of a loaded task's eval split (``bca.tasks.base.TaskSplits``); for a generative task
    only its size (what an exact-match accuracy's binomial interval needs: ``bca.report.decoder_table``)."""
    if splits.num_labels is None:
        return {"n": len(splits.eval)} if len(splits.eval) else None
    return eval_set_facts(splits.eval["label"], splits.num_labels)
