"""``kind: instruct`` task loader: a training source and a scored evaluation source, as ``TaskSplits``.

The task's ``name`` picks the training data (``bca.tasks.instruct.sources.SOURCES``); ``eval_task`` picks what is
scored, so a run can train on Alpaca or MetaMathQA and be scored on GSM8K test, as in the papers. Data stay
text here; the runtime tokenises them with the model's own tokenizer and prompt format.
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from bca.tasks.base import TaskDataError, TaskSplits
from bca.tasks.instruct.sources import SOURCES
from bca.tasks.registry import subsample

TEXT_FIELDS = ("instruction", "input", "response")
METRICS = ("accuracy", "answered", "heldout_loss")
"""What evaluation reports: exact-match accuracy and the share of generations holding a number at all (by
generation), and the teacher-forced held-out response loss (lower is better; needs task.heldout_loss_samples)."""


@dataclass
class InstructSplits(TaskSplits):
    """``TaskSplits`` plus the rows of the teacher-forced losses (``bca.tasks.instruct.heldout``), None when off.

    ``heldout``: the first ``task.heldout_loss_samples`` problems of the scored split (reference solutions as
    targets); ``general``: a seeded sample of general text for the forgetting figure, none of it trained on.
    """

    heldout: datasets.Dataset | None = None
    general: datasets.Dataset | None = None


def _source(name: str, role: str):
    if name not in SOURCES:
        raise TaskDataError(f"unknown instruction {role} dataset {name!r}; valid: {sorted(SOURCES)}")
    return SOURCES[name]


def load_instruct(cfg) -> TaskSplits:
    if cfg.metric_for_best not in METRICS:
        raise TaskDataError(f"task.metric_for_best={cfg.metric_for_best!r} is not reported; valid: {list(METRICS)}")
    train_src = _source(cfg.name, "training")
    eval_name = cfg.eval_task or cfg.name
    eval_src = _source(eval_name, "evaluation")
    if not eval_src.scored:
        raise TaskDataError(
            f"{eval_name} has no reference answers to score; set task.eval_task to one of "
            f"{sorted(n for n, s in SOURCES.items() if s.scored and len(s.splits) > 1)}"
        )
    if cfg.eval_split not in eval_src.splits[1:]:
        raise TaskDataError(
            f"task.eval_split={cfg.eval_split!r} is not an evaluation split of {eval_name}; "
            f"valid: {list(eval_src.splits[1:]) or 'none (it is training data only; set task.eval_task=gsm8k)'}"
        )
    _check_loss_keys(cfg)
    same = eval_name == cfg.name
    train = train_src.load(
        train_src.splits[0],
        data_dir=cfg.data_dir,
        hub_path=cfg.hub_path,
        hub_name=cfg.hub_name,
        seed=cfg.seed,
        size=cfg.max_train_samples,
    )
    evaluation = eval_src.load(
        cfg.eval_split,
        data_dir=cfg.eval_data_dir or (cfg.data_dir if same else None),
        hub_path=cfg.hub_path if same else None,
        hub_name=cfg.hub_name if same else None,
        seed=cfg.seed,
        # one load serves both: accuracy on the first max_eval_samples, the held-out loss on the first N
        size=None if cfg.max_eval_samples is None else max(cfg.max_eval_samples, cfg.heldout_loss_samples),
        exclude=frozenset(train["instruction"]) if eval_src.generated else frozenset(),
    )
    return InstructSplits(
        name=cfg.name,
        train=train,
        eval=evaluation,
        text_fields=TEXT_FIELDS,
        num_labels=None,
        metric_for_best=cfg.metric_for_best,
        heldout=_first(evaluation, cfg.heldout_loss_samples, f"{eval_name} {cfg.eval_split}"),
        general=_general_sample(cfg, train) if cfg.forgetting_samples else None,
    )


def _check_loss_keys(cfg) -> None:
    for key in ("heldout_loss_samples", "heldout_loss_every", "forgetting_samples"):
        if getattr(cfg, key) < 0:
            raise TaskDataError(f"task.{key}={getattr(cfg, key)} must be >= 0 (0: off)")
    if cfg.heldout_loss_every and not cfg.heldout_loss_samples:
        raise TaskDataError("task.heldout_loss_every needs task.heldout_loss_samples > 0 (the rows to measure on)")
    if cfg.metric_for_best == "heldout_loss" and not cfg.heldout_loss_samples:
        raise TaskDataError("task.metric_for_best=heldout_loss needs task.heldout_loss_samples > 0 (the rows to score)")
    if not cfg.generate and cfg.metric_for_best != "heldout_loss":
        raise TaskDataError(
            f"task.generate=false reports no {cfg.metric_for_best}: set task.metric_for_best=heldout_loss "
            "(and task.heldout_loss_samples > 0), or keep task.generate=true"
        )
    if cfg.forgetting_samples:
        _source(cfg.forgetting_task, "forgetting")


def _first(rows: datasets.Dataset, n: int, where: str) -> datasets.Dataset | None:
    if not n:
        return None
    if n > len(rows):
        raise TaskDataError(f"task.heldout_loss_samples={n} but {where} has {len(rows)} rows; use at most that")
    return rows.select(range(n))


def _general_sample(cfg, train: datasets.Dataset) -> datasets.Dataset:
    """``task.forgetting_samples`` rows of ``forgetting_task``, seeded by ``task.seed``, none of them trained on.

    The same seed and source give every run of a table the same sample, so their forgetting figures compare.
    """
    src = _source(cfg.forgetting_task, "forgetting")
    rows = src.load(
        src.splits[0],
        data_dir=cfg.forgetting_data_dir,
        hub_path=cfg.forgetting_hub_path,
        seed=cfg.seed + 2,  # generated sources: neither the training (seed) nor the test problems (seed + 1)
        size=cfg.forgetting_samples,
    )
    trained = frozenset(train["instruction"])
    unseen = rows.select([i for i, text in enumerate(rows["instruction"]) if text not in trained])
    if len(unseen) < cfg.forgetting_samples:
        raise TaskDataError(
            f"task.forgetting_samples={cfg.forgetting_samples} but {cfg.forgetting_task} has {len(unseen)} rows "
            f"that are not training rows ({len(rows) - len(unseen)} are); ask for fewer or pass another file "
            "as task.forgetting_data_dir"
        )
    return subsample(unseen, cfg.forgetting_samples, seed=cfg.seed)
