"""``kind: instruct`` task loader: a training source and a scored evaluation source, as ``TaskSplits``.

The task's ``name`` picks the training data (``bca.tasks.instruct.sources.SOURCES``); ``eval_task`` picks what is
scored, so a run can train on Alpaca or MetaMathQA and be scored on GSM8K test, as in the papers. Data stay
text here; the runtime tokenises them with the model's own tokenizer and prompt format.
"""

from __future__ import annotations

from bca.tasks.base import TaskDataError, TaskSplits
from bca.tasks.instruct.sources import SOURCES

TEXT_FIELDS = ("instruction", "input", "response")
METRICS = ("accuracy", "answered")
"""What evaluation reports: exact-match accuracy and the share of generations holding a number at all."""


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
        size=cfg.max_eval_samples,
        exclude=frozenset(train["instruction"]) if eval_src.generated else frozenset(),
    )
    return TaskSplits(
        name=cfg.name,
        train=train,
        eval=evaluation,
        text_fields=TEXT_FIELDS,
        num_labels=None,
        metric_for_best=cfg.metric_for_best,
    )
