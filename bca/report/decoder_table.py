"""The decoder table: per row, held-out response loss, exact-match accuracy with its interval, forgetting,
parameters and what the row costs to train and to serve.

Why a table of its own: on a 135M model GSM8K accuracy sits at a few percent, where one binomial interval
covers every method, so the comparison rests on the continuous held-out loss (mean ± std over seeds, Welch's
p against the reference row); accuracy is pooled over seeds (k correct of n·seeds problems) with its Wilson
95 % interval and Fisher's exact p against the reference row's pooled count, so a reader sees how little it can
separate. Generation speed comes from
``scripts/bench_generate.py --experiment``'s JSON (unmerged and merged, x the base model's tokens/s), joined
by row label.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bca.report import frame, table_metric
from bca.report.markdown import markdown_table
from bca.report.stats import ALPHA, differs, fisher_p, welch_p
from bca.report.tables import build
from bca.run.labels import row_label


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n trials (scipy)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f} (n=1)"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f} (n={len(values)})"


def _marked(p: float | None, digits: int = 3) -> str:
    """ ", p = ..." after a cell, starred where it differs from the reference; "" where nothing was tested."""
    return "" if p is None else f", p = {p:.{digits}g}" + ("*" if differs(p) else "")


def _forgetting(recs: list[dict]) -> list[float]:
    return [v for v in (table_metric.cell_value(r, "forgetting") for r in recs) if v is not None]


def _pooled_accuracy(recs: list[dict]) -> tuple[int, int]:
    """(correct, problems) summed over the runs (each run's accuracy x its eval-set size)."""
    k = n = 0
    for rec in recs:
        acc = table_metric.cell_value(rec, "accuracy")
        size = (rec.get("eval_set") or {}).get("n") or rec["config"]["task"].get("max_eval_samples")
        if acc is None or not size:
            continue
        k, n = k + round(acc * size), n + int(size)
    return k, n


def _accuracy(k: int, n: int, ref: tuple[int, int] | None) -> str:
    """The pooled accuracy cell; ``ref``: the reference row's pooled count, for Fisher's p (None: no test)."""
    if not n:
        return "-"
    low, high = wilson(k, n)
    p = fisher_p(k, n, *ref) if ref is not None and ref[1] else None
    return f"{100 * k / n:.1f} ({k}/{n}; {100 * low:.1f}-{100 * high:.1f})" + _marked(p, digits=2)


def _generation(bench: dict | None, label: str) -> str:
    """The bench row measured for this table row (by its label: ``bench_generate.py --experiment``), else "-".

    By label, not by method: C3A p = 64 and p = 192 are one method with different adapters, and a figure
    measured at one size is not the other's."""
    row = next((r for r in (bench or {}).get("rows", []) if r.get("label") == label), None)
    if row is None:
        return "-"
    return f"{row['unmerged_speed_vs_base']:.2f} / {row['merged_speed_vs_base']:.2f}"


def decoder_table(table, bench_path: Path | None = None) -> str:
    """Markdown for ``table`` (``bca.report.tables.build``; its records, chosen points only)."""
    bench = json.loads(Path(bench_path).read_text()) if bench_path and Path(bench_path).is_file() else None
    groups: dict[str, list[dict]] = {}
    for rec in table.records:
        groups.setdefault(row_label(rec), []).append(rec)
    order = [r.label for r in table.rows if r.label in groups] + [
        g for g in groups if g not in {r.label for r in table.rows}
    ]

    # the loss cells and their Welch p against the reference: the table builder's own grouping and test
    # (one task per decoder table: each row's one cell)
    reference = table.reference if table.reference in groups else None  # declared, but no final run landed yet
    loss_rows = build(table.records, reference=reference, metric="heldout_loss").rows
    loss_cells = {r.label: next(iter(r.cells.values()), None) for r in loss_rows}
    ref_count = _pooled_accuracy(groups[reference]) if reference else None
    ref_forgetting = _forgetting(groups[reference]) if reference else []
    body = []
    for label in order:
        recs = groups[label]
        cell = loss_cells.get(label)
        mine = cell.values if cell else []
        forgetting = _forgetting(recs)
        forgetting_p = None if label == reference else welch_p(forgetting, ref_forgetting)
        speeds = [t for t in ((r.get("time") or {}).get("tokens_per_s") for r in recs) if t]
        untrained = all(frame.untrained(r) for r in recs)  # zero-shot: the adapter at init
        params = "/".join(f"{n:,}" for n in sorted({int(r["params"]["adapter"]) for r in recs}))
        body.append([
            label, f"none trained ({params} at init)" if untrained else params,
            _mean_std(mine) + _marked(cell.p_value if cell else None),
            _accuracy(*_pooled_accuracy(recs), None if label == reference else ref_count),
            _mean_std(forgetting) + _marked(forgetting_p),
            f"{statistics.median(speeds):,.0f}" if speeds else "-",
            "1 (the base model)" if untrained else _generation(bench, label),
        ])  # fmt: skip
    header = ["row", "adapter params", "held-out loss (lower is better)", "accuracy % (k/n; Wilson 95 %; p)",
              "forgetting", "train tok/s", "generation × base (unmerged / merged)"]  # fmt: skip
    notes = [
        f"### {table.title}: decoder columns",
        "",
        "- held-out loss: mean ± std over seeds of the response NLL per token at each run's reported evaluation; "
        f"p = Welch's t-test against {reference or 'the reference row (none has landed yet)'} (`*`: p < {ALPHA:g}); "
        "accuracy pooled over the seeds, with the "
        f"Wilson interval and Fisher's exact p against {reference or 'the reference row'}'s pooled count "
        f"(two-sided; `*`: p < {ALPHA:g})",
        "- forgetting: general-text LM loss of the tuned model minus the base model's (lower is better); p = Welch's "
        f"t-test against {reference or 'the reference row'} over seeds",
        "- generation: tokens/s x the base model's, each row's own adapter (its method overrides, random values), "
        + (f"from `{bench_path}`" if bench else "no bench_generate.json given")
        + "; merged is the base model's arithmetic (plain nn.Linear), so its distance from 1 is the bench's noise",
        "",
    ]
    return "\n".join(notes) + "\n" + markdown_table(header, body) + "\n"
