"""Which figure a ``bca-table`` cell shows: the best dev epoch's main metric, or another figure of that epoch.

``bca-table --metric heldout_loss`` reports the held-out response loss of the epoch that ``metric_for_best``
chose (accuracy for GSM8K), so every column of a table describes the same model of each run. Losses are
shown as they are, not x100 like accuracies, and the table's notes say that lower is better.
"""

from __future__ import annotations

from bca.tasks.metrics import LOWER_IS_BETTER

UNSCALED = LOWER_IS_BETTER
"""Figures printed as recorded: nats per token, not a share in [0, 1] that papers print as a percentage."""


def cell_value(record: dict, metric: str | None = None) -> float | None:
    """``metric`` (default: the run's ``metric_for_best``) at the best dev epoch; None if not ok or absent."""
    best = (record.get("metrics") or {}).get("best")
    if record["status"] != "ok" or not best:
        return None
    value = best["eval"].get(metric or record["metrics"]["metric_for_best"])
    return None if value is None else float(value)


def missing_reason(record: dict, metric: str | None) -> str:
    """Why a record has no cell value: its status, or (an ok run recorded before the figure existed) 'no <metric>'."""
    return record["status"] if record["status"] != "ok" or metric is None else f"no {metric}"


def scale(metric: str | None, default: float) -> float:
    return 1.0 if metric in UNSCALED else default


def digits(metric: str | None) -> int:
    """Decimals a cell of ``metric`` is printed with: 4 for a loss in nats per token, 2 for a percentage."""
    return 4 if metric in UNSCALED else 2


def describe(metric: str | None) -> str:
    """What the cells are, for the table's notes ('' for the default metric)."""
    if metric is None:
        return ""
    better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    return f"; cells: {metric} of that epoch ({better})"
