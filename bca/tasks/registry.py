"""One entry point for task data: ``load_task(cfg)`` -> ``TaskSplits``.

``cfg.kind`` picks the loader; a new kind of task is one line in ``TASK_KINDS`` (or a
``register_task_kind`` call) naming a function ``loader(cfg) -> TaskSplits``. Loaders are imported lazily,
so asking for GLUE never imports another kind's dependencies. Everything common to all kinds happens here:
checking the config against what the data really hold, subsampling, and the held-out selection split
(``task.holdout``, ``bca.tasks.holdout``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from bca.tasks.base import TaskDataError, TaskSplits

__all__ = [
    "TASK_KINDS", "TASK_RUNTIMES", "TaskDataError", "TaskSplits", "load_task", "register_task_kind", "subsample",
    "task_runtime",
]  # fmt: skip

TASK_KINDS: dict[str, str | Callable] = {
    "glue": "bca.tasks.glue:load_glue",
    "rotten_tomatoes": "bca.tasks.rotten_tomatoes:load_rotten_tomatoes",
    "instruct": "bca.tasks.instruct.task:load_instruct",
}
"""Task kind -> loader, as a callable or a lazy ``"module:function"`` reference."""

TASK_RUNTIMES: dict[str, str | Callable] = {"instruct": "bca.tasks.instruct.runtime:instruct_runtime"}
"""Task kind -> ``runtime(accelerator, cfg, splits, tokenizer) -> (train loader, evaluate)`` for the fit loop;
a kind not listed classifies (``bca.tasks.classification``)."""
CLASSIFY = "bca.tasks.classification:classification_runtime"


def register_task_kind(kind: str, loader: str | Callable) -> None:
    """Add a task kind; ``loader(cfg)`` must return ``TaskSplits``."""
    TASK_KINDS[kind] = loader


def _resolve(kind: str) -> Callable:
    if kind not in TASK_KINDS:
        raise TaskDataError(f"unknown task kind {kind!r}; valid: {sorted(TASK_KINDS)}")
    return _load(TASK_KINDS[kind])


def _load(entry: str | Callable) -> Callable:
    if isinstance(entry, str):
        module, _, func = entry.partition(":")
        entry = getattr(importlib.import_module(module), func)
    return entry


def task_runtime(accelerator, cfg, splits, tokenizer):
    """(train loader, evaluate) for the task's family: instruction tasks generate, the rest classify."""
    return _load(TASK_RUNTIMES.get(cfg.task.kind, CLASSIFY))(accelerator, cfg, splits, tokenizer)


def subsample(ds, n: int | None, seed: int | None = None):
    """At most ``n`` rows: the first ``n`` when ``seed`` is None, else a seeded random subset in file order.

    run_glue takes the first N training rows; we draw them at random instead because several GLUE files are
    grouped (CoLA rows come in blocks by source publication), so the first N would be a biased sample.
    """
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise TaskDataError(f"sample limit must be >= 1 or None, got {n}")
    if seed is None:
        return ds.select(range(n))
    rows = np.sort(np.random.default_rng(seed).permutation(len(ds))[:n])
    return ds.select(rows.tolist())


def _check(cfg, splits: TaskSplits) -> None:
    """Collect every mismatch between the config and the loaded data into one error."""
    from bca.tasks.metrics import glue_metric_outputs

    problems = []
    if cfg.num_labels != splits.num_labels:
        problems.append(
            f"task.num_labels={cfg.num_labels} but {cfg.name} has {splits.num_labels} "
            f"({'regression' if splits.is_regression else splits.label_names})"
        )
    if not getattr(cfg, "generate", True) and splits.num_labels is not None:
        problems.append("task.generate=false applies to instruction tasks (kind=instruct) only; a classifier is scored")
    valid = glue_metric_outputs().get(cfg.name)
    if valid is not None and cfg.metric_for_best not in valid:
        problems.append(
            f"task.metric_for_best={cfg.metric_for_best!r} is not computed for {cfg.name}; valid: {list(valid)}"
        )
    for split_name, ds in (("train", splits.train), ("eval", splits.eval)):
        label = ("label",) if splits.num_labels is not None else ()  # generative tasks: text columns only
        missing = [c for c in (*splits.text_fields, *label) if c not in ds.column_names]
        if missing:
            problems.append(f"{split_name} split lacks columns {missing}")
        elif len(ds) == 0:
            problems.append(f"{split_name} split is empty")
    if problems:
        raise TaskDataError(f"task {cfg.name!r}: " + "; ".join(problems))


def load_task(cfg) -> TaskSplits:
    """Load train/eval data for a task config (a ``TaskConfig`` or any object with its attributes)."""
    splits = _resolve(cfg.kind)(cfg)
    _check(cfg, splits)
    splits.metric_for_best = cfg.metric_for_best
    splits.train = subsample(splits.train, cfg.max_train_samples, seed=cfg.seed)
    if getattr(cfg, "holdout", None) is not None:  # a tuning run: score on a slice of train, never on dev
        from bca.tasks.holdout import apply_holdout

        apply_holdout(splits, cfg.holdout, cfg.holdout_seed)
    splits.eval = subsample(splits.eval, cfg.max_eval_samples)
    return splits
