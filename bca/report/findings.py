"""The table's comparisons as sentences, generated from its cells: the prose a reader may quote.

Why generated: a hand-written "BCA beats LoRA on SST-2" outlives the records it was read from, and with
three seeds most gaps are noise. Here every sentence carries the numbers it rests on (mean ± std, n, the
difference, Welch's p against the reference row, ``bca.report.stats``) and says plainly when nothing is
significant, so rebuilding the table rebuilds the prose, byte for byte.
"""

from __future__ import annotations

from bca.report import table_metric
from bca.report.stats import ALPHA, differs
from bca.report.tables import Cell, Table
from bca.tasks.metrics import LOWER_IS_BETTER


def _stat(cell: Cell, digits: int = 2) -> str:
    return f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f} (n={cell.n})"


def _vs(label: str, cell: Cell, ref: Cell, digits: int = 2) -> str:
    return f"{label} {_stat(cell, digits)}, {cell.mean - ref.mean:+.{digits}f}, p = {cell.p_value:.3g}"


def task_sentence(table: Table, task: str) -> str | None:
    """One line for ``task``: which rows differ from the reference and which cannot be told apart from it."""
    ref_row = next((r for r in table.rows if r.label == table.reference), None)
    ref = ref_row.cells.get(task) if ref_row else None
    if ref is None or ref.n < 2:
        return None
    tested = [(r.label, r.cells[task]) for r in table.rows if r is not ref_row and task in r.cells]
    tested = [(label, c) for label, c in tested if c.p_value is not None]
    if not tested:
        return None
    higher = [(label, c) for label, c in tested if differs(c.p_value) and c.mean > ref.mean]
    lower = [(label, c) for label, c in tested if differs(c.p_value) and c.mean < ref.mean]
    same = [(label, c) for label, c in tested if not differs(c.p_value)]
    d = table_metric.digits(table.metric)
    what = f" {table.metric}" if table.metric else ""
    parts = [f"**{task}**{what}: {table.reference} {_stat(ref, d)}."]
    lower_better = table.metric in LOWER_IS_BETTER
    names = ("Above it (worse)", "Below it (better)") if lower_better else ("Above it", "Below it")
    for name, group in zip(names, (higher, lower), strict=True):
        if group:
            parts.append(f"{name} at p < {ALPHA:g}: " + "; ".join(_vs(label, c, ref, d) for label, c in group) + ".")
    if same:
        parts.append(
            f"Not distinguishable from it (p ≥ {ALPHA:g}): "
            + "; ".join(_vs(label, c, ref, d) for label, c in same)
            + "."
        )
    if not higher and not lower:
        parts.append(f"No row differs significantly from {table.reference} on {task}.")
    return " ".join(parts)


def floor_lines(table: Table, floors: dict[str, dict[str, float]]) -> list[str]:
    """One verdict per (row, task) floor of the experiment: the cell's median against the line it must clear."""
    rows = {r.label: r for r in table.rows}
    out = []
    for label, per_task in floors.items():
        verdicts = []
        for task, floor in per_task.items():
            cell = rows[label].cells.get(task) if label in rows else None
            if cell is None or cell.median is None:
                verdicts.append(f"{task} ≥ {floor:g}: not run yet")
            else:
                seeds = f", n={cell.n}" + ("" if cell.n >= 3 else ": seeds still running")
                verdict = "met" if cell.median >= floor else "MISSED"
                verdicts.append(f"{task} {cell.median:.2f} ≥ {floor:g}: {verdict}{seeds}")
        out.append(f"- Floors, {label} median: " + "; ".join(verdicts) + ".")
    return out


def findings(table: Table, floors: dict[str, dict[str, float]] | None = None) -> str:
    """Markdown: the experiment's floors, one line per task with a testable reference cell, then the cells at
    the constant predictor."""
    tested = [f"- {ln}" for ln in (task_sentence(table, t) for t in table.columns) if ln]
    none = (
        f"- No row can be compared with {table.reference} yet (a test needs 2 or more seeds on both sides)."
        if table.reference
        else "- No reference row to compare against (bca-table --reference ROW)."
    )
    lines = floor_lines(table, floors or {}) + (tested or [none])
    trivial = [f"{r.label} on {t}" for r in table.rows for t, c in r.cells.items() if c.n and c.at_trivial == c.n]
    if trivial:
        lines.append(
            "- No seed beats the eval set's best constant predictor (one-sided, p < 0.05): " + "; ".join(trivial) + "."
        )
    head = (
        f"### Findings (generated from the cells: mean ± std over seeds, difference to {table.reference}, Welch's "
        "two-sided p; cells with n ≥ 2 on both sides)"
    )
    return head + "\n\n" + "\n".join(lines) + "\n"
