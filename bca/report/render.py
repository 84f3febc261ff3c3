"""One table renderer for markdown, LaTeX and CSV (lm-evaluation-harness style: one model, three outputs).

Markdown and LaTeX print, per row, our line, the paper's line and the difference; CSV is long format
(one line per row x task) with every statistic, for plotting or further analysis.
"""

from __future__ import annotations

import csv
import io

from bca.report import table_metric
from bca.report.markdown import markdown_table
from bca.report.stats import ALPHA, differs
from bca.report.tables import Row, Table, average

MARK = "*"
"""Appended to a cell that differs from the reference row at p < ALPHA (Welch's t-test over seeds)."""
TRIVIAL = "°"
"""Appended to a cell none of whose seeds beats the eval set's constant predictor at p < ALPHA (one-sided)."""


def fmt(value: float | None, signed: bool = False, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def params_m(counts: set[int]) -> str:
    return "/".join(f"{c / 1e6:.3f}M" for c in sorted(counts)) if counts else "-"


def ours_cell(row: Row, task: str, digits: int = 2) -> str:
    cell = row.cells.get(task)
    if cell is None:
        return "-"
    text = fmt(cell.median, digits=digits)
    if cell.n > 1:
        text += f" ({fmt(cell.mean, digits=digits)} ± {fmt(cell.std, digits=digits)}, n={cell.n})"
    if differs(cell.p_value):
        text += MARK
    if cell.n and cell.at_trivial == cell.n:
        text += TRIVIAL
    if cell.not_ok:
        text += " [" + ", ".join(f"{k} {v}" for k, v in sorted(cell.not_ok.items())) + "]"
    return text


def params_cell(row) -> str:
    """The "params (ours)" cell: a zero-shot row trained no adapter, so it shows no adapter's count."""
    return "none trained" if row.untrained else params_m(row.adapter_params)


def lines(table: Table) -> list[list[str]]:
    """Header + body cells shared by markdown and LaTeX."""
    out = [["row", "model", "params (ours)", "params (paper)", *table.columns, "avg"]]
    d = table_metric.digits(table.metric)
    for row in table.rows:
        medians = [row.cells[t].median if t in row.cells else None for t in table.columns]
        out.append(
            [row.label, row.model, params_cell(row), row.published_params or "-"]
            + [ours_cell(row, t, d) for t in table.columns]
            + [fmt(average(medians), digits=d)]
        )
        if row.chosen:
            out.append(["  chosen", "", "", ""] + [row.chosen.get(t, "-") for t in table.columns] + [""])
        if row.published:
            paper = [row.published.get(t) for t in table.columns]
            out.append(["  paper", "", "", ""] + [fmt(v) for v in paper] + [fmt(average(paper))])
            diffs = [m - p if m is not None and p is not None else None for m, p in zip(medians, paper, strict=True)]
            avg_diff = (
                average(medians) - average(paper)
                if average(medians) is not None and average(paper) is not None
                else None
            )
            out.append(["  Δ ours − paper", "", "", ""] + [fmt(d, signed=True) for d in diffs] + [fmt(avg_diff, True)])
    return out


def notes(table: Table) -> list[str]:
    out = [table.reports, table.ours]
    if table.protocol:
        out.append(f"{table.protocol} (`chosen` lines; every grid point: `bca-table --tuning`)")
    if table.held_out_runs:
        out.append(f"{table.held_out_runs} held-out selection run(s) are not in this table (not dev scores)")
    if table.reference:
        out.append(
            f"{MARK} differs from {table.reference} at p < {ALPHA:g} (Welch's t-test over seeds, two-sided; "
            "cells with n ≥ 2 on both sides only)"
        )
    if any(c.n and c.at_trivial == c.n for r in table.rows for c in r.cells.values()):
        out.append(
            f"{TRIVIAL} no seed of the cell beats the eval set's best constant predictor (majority class; MCC or "
            f"Pearson 0) at p < {ALPHA:g} (one-sided: binomial test, MCC·√n, Pearson's t)"
        )
    if table.damaged:
        out.append(f"skipped {len(table.damaged)} damaged record(s): " + ", ".join(table.damaged))
    return out


def markdown(table: Table) -> str:
    rows = lines(table)
    text = [f"### {table.title}", ""] + [f"- {n}" for n in notes(table)] + [""]
    return "\n".join(text) + "\n" + markdown_table(rows[0], rows[1:]) + "\n"


def latex(table: Table) -> str:
    def esc(s: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
            s = s.replace(a, b)
        return s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("−", "$-$")

    rows = lines(table)
    text = [f"% {esc(n)}" for n in notes(table)]
    text += [r"\begin{tabular}{ll" + "r" * (len(rows[0]) - 2) + "}", r"\toprule"]
    text.append(" & ".join(esc(c) for c in rows[0]) + r" \\")
    text.append(r"\midrule")
    text += [" & ".join(esc(c) for c in cells) + r" \\" for cells in rows[1:]]
    text += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(text) + "\n"


def csv_long(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["row", "model", "task", "n", "median", "mean", "std", "not_ok", "paper", "diff", "adapter_params",
         "p_vs_reference", "chosen", "seeds_at_trivial"]
    )  # fmt: skip
    for row in table.rows:
        for task in table.columns:
            cell = row.cells.get(task)
            paper = row.published.get(task)
            median = cell.median if cell else None
            writer.writerow(
                [
                    row.label,
                    row.model,
                    task,
                    cell.n if cell else 0,
                    fmt(median),
                    fmt(cell.mean if cell else None),
                    fmt(cell.std if cell else None),
                    ";".join(f"{k}={v}" for k, v in sorted(cell.not_ok.items())) if cell else "",
                    fmt(paper),
                    fmt(median - paper if median is not None and paper is not None else None, signed=True),
                    "/".join(str(c) for c in sorted(row.adapter_params)),
                    f"{cell.p_value:.4g}" if cell and cell.p_value is not None else "",
                    row.chosen.get(task, ""),
                    f"{cell.at_trivial}/{cell.n}" if cell and cell.n else "",
                ]
            )
    return buf.getvalue()


FORMATS = {"md": markdown, "tex": latex, "csv": csv_long}


def render(table: Table, fmt_name: str) -> str:
    if fmt_name not in FORMATS:
        raise ValueError(f"unknown format {fmt_name!r}; valid: {', '.join(sorted(FORMATS))}")
    return FORMATS[fmt_name](table)
