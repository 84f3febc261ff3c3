"""The cost side of a comparison (``bca-table --costs``): per table row, what its runs cost.

One line per row of the score table, in the same order: trainable parameters, FLOPs per token (the whole
network's forward, measured, and the adapters' own, analytic), mean optimiser-step time and training
throughput, each the median over the row's finished runs (all its runs if none finished). Read from the
records alone, so the same records always give the same bytes. Peak memory is left out: a record's
``memory`` is its process's peak, and bca-reproduce trains every cell in one process.
"""

from __future__ import annotations

import csv
import io
import statistics

from bca.report.tables import Table, row_label

HEADER = ["row", "model", "runs", "adapter params", "head params", "MFLOPs/token", "adapter MFLOPs/token",
          "step ms", "tokens/s"]  # fmt: skip


def _median(values) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def _get(record: dict, *path):
    for key in path:
        record = (record or {}).get(key) if isinstance(record, dict) else None
    return record


def row_costs(found: list[dict]) -> dict[tuple[str, str], dict]:
    """(row label, model) -> median costs of its records."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for rec in found:
        groups.setdefault((row_label(rec), rec["config"]["model"]["name"]), []).append(rec)
    costs = {}
    for key, recs in groups.items():
        ok = [r for r in recs if r["status"] == "ok"] or recs
        flops = [_get(r, "flops", "flops_fwd_per_token") for r in ok]
        adapter = [_get(r, "flops", "adapter_flops_fwd_per_token") for r in ok]
        not_counted = any(_get(r, "flops", "adapter_flops") for r in ok)
        costs[key] = {
            "runs": len(recs),
            "adapter params": _median(_get(r, "params", "adapter") for r in ok),
            "head params": _median(_get(r, "params", "head") for r in ok),
            "MFLOPs/token": _scaled(_median(flops), 1e-6),
            "adapter MFLOPs/token": "not counted" if not_counted else _scaled(_median(adapter), 1e-6),
            "step ms": _scaled(_median(_get(r, "time", "step_s") for r in ok), 1e3),
            "tokens/s": _median(_get(r, "time", "tokens_per_s") for r in ok),
        }
    return costs


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def lines(table: Table, found: list[dict]) -> list[list[str]]:
    costs = row_costs(found)
    out = [HEADER]
    for row in table.rows:
        cost = costs.get((row.label, row.model))
        if cost is not None:
            out.append([row.label, row.model] + [_text(cost[c]) for c in HEADER[2:]])
    return out


def render_costs(table: Table, found: list[dict], fmt_name: str) -> str:
    """The cost table in the score table's format (md | csv | tex)."""
    rows = lines(table, found)
    if fmt_name == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    if fmt_name == "tex":
        body = [" & ".join(c.replace("_", r"\_") for c in cells) + r" \\" for cells in rows]
        return "\n".join([r"\begin{tabular}{ll" + "r" * (len(HEADER) - 2) + "}", r"\toprule", body[0], r"\midrule",
                          *body[1:], r"\bottomrule", r"\end{tabular}"]) + "\n"  # fmt: skip
    text = ["### Costs", "", "- per row, median over its finished runs; MFLOPs/token: whole network, forward, "
            "measured; adapter MFLOPs/token: the adapters alone, analytic (bca/count/flops.py); step: one optimiser "
            "step", ""]  # fmt: skip
    text.append("| " + " | ".join(rows[0]) + " |")
    text.append("|" + "---|" * len(rows[0]))
    text += ["| " + " | ".join(cells) + " |" for cells in rows[1:]]
    return "\n".join(text) + "\n"
