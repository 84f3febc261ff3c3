"""Values the schema's types let through but a run cannot use, checked by table: one rule per field.

The schemas (``bca/schema.py``) fix each field's type; they cannot say that a learning rate must be a finite
positive number (``-1`` trains by gradient ascent, ``nan`` writes NaN into the record), that a warmup ratio is
a fraction, or which strings ``model.source`` may be. Those rules are data here, one dict per config section,
and apply to whichever method has the field: a new method or knob gets its rule by adding one line, and
``bca/methods.py`` stays free of validation. Each problem is one line: the value, what is wrong, what is valid.
No torch, no Hydra: plain attribute configs in, strings out.
"""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path

from bca.config.schema import logger_enabled


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


FINITE = (_real, "a finite number")
POSITIVE = (lambda v: _real(v) and v > 0, "a finite number > 0")
NON_NEGATIVE = (lambda v: _real(v) and v >= 0, "a finite number >= 0")
FRACTION = (lambda v: _real(v) and 0 <= v <= 1, "a fraction of the steps, between 0 and 1")
PROBABILITY = (lambda v: _real(v) and 0 <= v < 1, "a probability, 0 <= p < 1")
COUNT = (lambda v: _int(v) and v >= 1, "an integer >= 1")
OPTIONAL_COUNT = (lambda v: v is None or (_int(v) and v >= 1), "an integer >= 1")  # null: only where the schema allows
SEED = (lambda v: _int(v) and 0 <= v < 2**32, "an integer between 0 and 2**32 - 1 (numpy's seed range)")
CLIP = (lambda v: v is None or (_real(v) and v > 0), "a finite number > 0, or null for no clipping")
HOLDOUT = (
    lambda v: v is None or (_real(v) and (0 < v < 1 or (v >= 1 and float(v).is_integer()))),
    "a fraction in (0, 1) or a whole row count >= 1 of the training set, or null (no held-out selection split)",
)

RANGES: dict[str, dict[str, tuple]] = {
    "method": {
        "lr": POSITIVE,
        "head_lr": NON_NEGATIVE,
        "block_size": OPTIONAL_COUNT,
        "r": COUNT,
        "alpha": POSITIVE,
        "n_frequency": COUNT,
        "num_factors": COUNT,
        "dropout": PROBABILITY,
        "scaling": FINITE,
        "d_initial": FINITE,
        "projection_seed": SEED,
        "random_loc_seed": SEED,
    },
    "model": {"hidden_size": COUNT, "block_size": COUNT},
    "trainer": {
        "max_grad_norm": CLIP,
        "weight_decay": NON_NEGATIVE,
        "warmup_ratio": FRACTION,
        "seed": SEED,
    },
    "task": {"seed": SEED, "max_new_tokens": COUNT, "holdout": HOLDOUT, "holdout_seed": SEED},
}
"""section -> field -> (test, what is valid). A field a section lacks (``method.r`` under BCA) is skipped."""

CHOICES: dict[tuple[str, str], tuple | str | dict] = {
    ("model", "source"): ("hub", "package", "random"),
    ("model", "dtype"): "bca.models:DTYPES",
    ("trainer", "mixed_precision"): ("no", "fp16", "bf16"),
    ("logger", "mode"): ("offline", "online", "disabled"),
    # per method: the values its implementation accepts (peft's C3A init_weights strings; ours in bca.adapters)
    ("method", "init"): {
        "c3a": ("gaussian", "kaiming_uniform", "xavier_uniform"),
        "bca": "bca.adapters.bca:BCA_INITS",
        "cdd": "bca.adapters.cdd:CDD_INITS",
    },
}
"""(section, field) -> the valid values: a tuple, a lazy ``"module:name"`` reference, or a dict per method."""


def _resolve(valid) -> tuple:
    if isinstance(valid, str):
        module, _, name = valid.partition(":")
        valid = getattr(importlib.import_module(module), name)
    return tuple(valid)


_ABSENT = object()


def _field(node, key):
    """``node.key`` for a DictConfig, a dataclass or any attribute object; ``_ABSENT`` if it has no such field."""
    return _ABSENT if node is None else getattr(node, key, _ABSENT)


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def value_problems(cfg) -> list[str]:
    """Every value of ``cfg`` outside its field's range or set of choices (RANGES, CHOICES)."""
    problems = []
    for section, rules in RANGES.items():
        node = getattr(cfg, section, None)
        for key, (test, valid) in rules.items():
            value = _field(node, key)
            if value is not _ABSENT and not test(value):
                problems.append(f"{section}.{key}={_show(value)} is not valid: use {valid}")
    for (section, key), valid in CHOICES.items():
        node = getattr(cfg, section, None)
        value = _field(node, key)
        if value is _ABSENT:
            continue
        if isinstance(valid, dict):
            name = _field(node, "name")
            if name not in valid:
                continue
            valid = valid[name]
        valid = _resolve(valid)
        if value not in valid:
            problems.append(f"{section}.{key}={_show(value)} is not valid; choose one of: {', '.join(valid)}")
    return problems


# --- sequence length vs the model's position embeddings ---------------------------------------------------------
MIN_LENGTH = 8
"""Room for a pair's special tokens (<s> a </s></s> b </s>: 4) and a few text tokens; below that the tokenizer
cannot truncate to the length asked and silently returns longer sequences."""
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert")
"""RoBERTa-style models number positions from pad_token_id + 1, so pad_token_id + 1 positions are never used."""


def position_limit(model_cfg) -> int | None:
    """The longest sequence the model can embed (None: its arch does not say)."""
    arch = model_cfg.arch or {}
    positions = arch.get("max_position_embeddings")
    if not _int(positions):
        return None
    if arch.get("model_type") in OFFSET_POSITIONS:
        positions -= int(arch.get("pad_token_id", 1)) + 1
    return positions


def length_problems(cfg) -> list[str]:
    """The run's sequence length (task.max_length for instruction tasks, else trainer.max_length) must fit."""
    key, value = "trainer.max_length", cfg.trainer.max_length
    if getattr(cfg.task, "kind", None) == "instruct" and getattr(cfg.task, "max_length", None) is not None:
        key, value = "task.max_length", cfg.task.max_length
    limit = position_limit(cfg.model)
    if value < MIN_LENGTH:
        return [f"{key}={value} is too short for the special tokens and some text; use >= {MIN_LENGTH}"]
    if limit is not None and value > limit:
        return [f"{key}={value} is longer than model={cfg.model.name} can embed ({limit} positions); use <= {limit}"]
    return []


# --- where the run writes ----------------------------------------------------------------------------------------
WRITTEN_SUBDIRS = ("records", "checkpoints", "locks")


def _folder_problem(key: str, path: Path) -> str | None:
    """Why nothing can be written under ``path`` (existing or to be created), or None."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{key}={path}: {existing} is a file, not a folder; choose another {key}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{key}={path}: {existing} is not writable (a read-only folder or file system); choose another {key}"
    return None


def path_problems(cfg) -> list[str]:
    """results_dir (and the folders a run writes in it, and wandb's dir) must be a folder we can write."""
    results = str(cfg.results_dir).strip()
    if not results:
        return ["results_dir is empty, which would write records into the current folder; use e.g. results_dir=runs"]
    problems = []
    root = Path(results)
    for path in [root, *(root / sub for sub in WRITTEN_SUBDIRS if (root / sub).exists())]:
        problem = _folder_problem("results_dir", path)
        if problem:
            problems.append(problem)
            break
    logger = getattr(cfg, "logger", None)
    if logger is not None and logger_enabled(logger) and str(logger.dir or "") not in ("", results):
        problem = _folder_problem("logger.dir", Path(str(logger.dir)))
        problems += [problem] if problem else []
    return problems
