"""Records -> one pandas DataFrame: the single step where run records become rows, cells and series.

One row per record, in the order the records were read: what table row and cell it belongs to (``label``,
``model``, ``task``, ``seed``), what ran (``method``, ``block_size``), how it ended (``status``), the cell value
(``value``: the chosen eval figure of the best dev epoch, NaN when there is none, with ``missing`` saying
why), whether that value fails to beat the eval set's constant predictor (``at_trivial``), and its costs.
The record itself stays in ``record`` for the plots that draw its curves. Tables, the cost table and every
plot group this frame; none of them walks records again.
"""

from __future__ import annotations

import math

import pandas as pd

from bca.report import table_metric
from bca.report.stats import at_trivial
from bca.run.labels import row_label

COLUMNS = (
    "label", "model", "task", "seed", "method", "block_size", "status", "value", "missing", "adapter_params",
    "step_s", "untrained", "at_trivial", "record",
)  # fmt: skip


NUMERIC = ("seed", "value", "adapter_params")


def untrained(rec: dict) -> bool:
    """True for a run that trained 0 steps (a zero-shot row): its adapter is the one at init, so its parameter
    count is not a trained adapter's and it is no point on a score-vs-parameters plot."""
    return (rec.get("time") or {}).get("steps") == 0


def _row(rec: dict, metric: str | None) -> dict:
    cfg = rec["config"]
    value = table_metric.cell_value(rec, metric)
    size = cfg["method"].get("block_size")
    return {
        "label": row_label(rec),
        "model": cfg["model"]["name"],
        "task": cfg["task"]["name"],
        "seed": cfg["trainer"]["seed"],
        "method": cfg["method"]["name"],
        "block_size": int(size) if size else None,
        "status": rec["status"],
        "value": math.nan if value is None else value,
        "missing": table_metric.missing_reason(rec, metric) if value is None else None,
        "adapter_params": int(rec["params"]["adapter"]),
        "step_s": (rec.get("time") or {}).get("step_s"),  # failed runs have no time
        "untrained": untrained(rec),
        # True: the value does not beat the eval set's constant predictor (None: not testable / no facts)
        "at_trivial": None
        if value is None
        else at_trivial(metric or rec["metrics"]["metric_for_best"], value, rec.get("eval_set")),
        "record": rec,
    }


def runs_frame(found: list[dict], metric: str | None = None) -> pd.DataFrame:
    """The frame of ``found`` (``metric``: the figure in ``value``; None: each run's ``metric_for_best``)."""
    rows = [_row(rec, metric) for rec in found]
    # object columns keep None as None (not NaN) and block sizes as ints; ``value`` is a float column
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=None if c in NUMERIC else object) for c in COLUMNS})


def values(frame: pd.DataFrame) -> list[float]:
    """The cell values of ``frame``'s rows that have one, as plain floats."""
    return [float(v) for v in frame["value"] if not math.isnan(v)]
