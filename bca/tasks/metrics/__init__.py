"""Offline metrics: local ``evaluate`` modules shipped inside the package (no hub download needed).

``glue/glue.py`` is the single source of the task -> metric names table. We read that table from the file's
syntax tree rather than importing it, so callers can validate names without paying for an ``evaluate`` import.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

LOWER_IS_BETTER = frozenset({"heldout_loss", "general_loss", "forgetting"})
"""Eval figures where a smaller number is the better model (bca.tasks.instruct.heldout): read by the tables and
by lr selection (bca.paper.tune), so both rank a figure the same way."""

GLUE_METRIC_DIR = Path(__file__).parent / "glue"
"""Folder of the local GLUE metric; ``evaluate.load(str(GLUE_METRIC_DIR), task)`` loads it."""


@cache
def glue_metric_outputs() -> dict[str, tuple[str, ...]]:
    """Config name -> metric keys, from ``glue/glue.py``'s ``TASK_OUTPUTS``."""
    tree = ast.parse((GLUE_METRIC_DIR / "glue.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TASK_OUTPUTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError(f"{GLUE_METRIC_DIR / 'glue.py'} defines no TASK_OUTPUTS literal")


def metric_names(task_name: str) -> tuple[str, ...]:
    """The keys the GLUE metric returns for ``task_name``; ValueError listing valid names otherwise."""
    outputs = glue_metric_outputs()
    if task_name not in outputs:
        raise ValueError(f"no GLUE metric for task {task_name!r}; valid: {sorted(outputs)}")
    return outputs[task_name]


def load_glue_metric(task_name: str, **kwargs):
    """Load the local GLUE metric for ``task_name`` (an ``evaluate.EvaluationModule``), fully offline.

    ``kwargs`` go to ``evaluate.load`` (e.g. ``num_process``/``process_id``/``experiment_id`` when several
    processes compute the metric together).
    """
    metric_names(task_name)  # fail with the list of valid names before the slow evaluate import
    import evaluate

    return evaluate.load(str(GLUE_METRIC_DIR), task_name, **kwargs)
