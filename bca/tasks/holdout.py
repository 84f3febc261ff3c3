"""The selection split: a seeded, stratified slice of the training set held out for choosing hyperparameters.

Tuning on the dev split that a table reports would select on the test data; the papers' protocol does that
(C3A Table 2 selects on a validation split of dev). ``task.holdout`` gives a run the other protocol: it trains
on the training rows minus the slice and is scored on the slice, so the dev split is never seen while a
learning rate is chosen. The slice is part of the config (fraction/count and seed), so it is part of the run id.

Stratified (scikit-learn's ``train_test_split``): class proportions of the slice match the training set's;
regression labels (STS-B) are stratified by quantile bins; instruction tasks (no labels) are a plain seeded draw.
Both parts keep the file order of the training set. An instruction task's teacher-forced held-out loss rows
(``InstructSplits.heldout``, the first N problems of the scored split) move with the eval split: a selection run
that picks an lr by held-out loss must measure it on the training slice, never on the test problems.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from bca.tasks.base import TaskDataError

REGRESSION_BINS = 5
"""Quantile bins for stratifying a regression label: enough to balance low and high scores, few enough that
every bin has members in a slice of a few hundred rows."""


def holdout_size(holdout: float | int, n_rows: int) -> int:
    """Rows in the slice: a fraction in (0, 1) of ``n_rows``, or a count >= 1 (at least 1 row stays to train on)."""
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or holdout <= 0:
        raise TaskDataError(f"task.holdout={holdout!r}: give a fraction in (0, 1) or a row count >= 1")
    size = int(round(holdout * n_rows)) if holdout < 1 else int(holdout)
    if not 1 <= size < n_rows:
        raise TaskDataError(
            f"task.holdout={holdout!r} holds out {size} of {n_rows} training rows; it must leave at least one row "
            f"on each side (a fraction in (0, 1) or a count in [1, {n_rows - 1}])"
        )
    return size


def strata(labels, num_labels: int | None):
    """What to stratify on: class ids, regression quantile bins, or None (no labels)."""
    if num_labels is None or labels is None:
        return None
    labels = np.asarray(labels)
    if num_labels == 1:
        edges = np.quantile(labels, np.linspace(0, 1, REGRESSION_BINS + 1)[1:-1])
        return np.digitize(labels, edges)
    return labels


def split_indices(n_rows: int, holdout: float | int, seed: int, labels=None, num_labels: int | None = None):
    """(train rows, held-out rows), both sorted; deterministic in (n_rows, holdout, seed, labels)."""
    size = holdout_size(holdout, n_rows)
    groups = strata(labels, num_labels)
    if groups is not None and min(np.bincount(np.unique(groups, return_inverse=True)[1])) < 2:
        groups = None  # a class with one row cannot be split: fall back to a plain draw rather than fail
    train, held = train_test_split(np.arange(n_rows), test_size=size, random_state=seed, stratify=groups)
    return np.sort(train).tolist(), np.sort(held).tolist()


def apply_holdout(splits, holdout, seed: int):
    """Replace ``splits.eval`` by a held-out slice of ``splits.train`` and train on the rest (in place)."""
    labels = splits.train["label"] if "label" in splits.train.column_names else None
    train_rows, held_rows = split_indices(len(splits.train), holdout, seed, labels, splits.num_labels)
    splits.eval = splits.train.select(held_rows)
    splits.train = splits.train.select(train_rows)
    loss_rows = getattr(splits, "heldout", None)
    if loss_rows is not None:  # the same number of problems, now the first of the held-out training slice
        if len(loss_rows) > len(splits.eval):
            raise TaskDataError(
                f"task.heldout_loss_samples={len(loss_rows)} but the held-out slice (task.holdout={holdout!r}) has "
                f"{len(splits.eval)} rows; lower heldout_loss_samples or raise task.holdout"
            )
        splits.heldout = splits.eval.select(range(len(loss_rows)))
    return splits
