"""The tuning table: every grid point's selection score per (row, task), the chosen one marked.

It is what a reader needs to judge the choice: whether the grid brackets the optimum (an edge choice says
widen it), and how flat the score is around it. Rendered from the same records as the main table.
"""

from __future__ import annotations

import csv
import io

from bca.paper import tune


def _score(s: tune.PointScore, scale: float) -> str:
    if s.score is not None:
        return f"{scale * s.score:.2f}"
    return s.status or "todo"


def collect(found: list[dict], experiment) -> list[tuple[str, str, str, tune.Choice]]:
    """(row, model, task, choice) for every row with a grid and every model among the records."""
    out = []
    kept = [r for r in found if r["config"].get("experiment") == experiment.name]
    for model in sorted({r["config"]["model"]["name"] for r in kept}):
        mine = [r for r in kept if r["config"]["model"]["name"] == model]
        for (label, task), choice in tune.choices(experiment, mine).items():
            out.append((label, model, task, choice))
    return out


def tuning_table(found: list[dict], experiment, fmt_name: str = "md") -> str:
    entries = collect(found, experiment)
    if fmt_name == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["row", "model", "task", "point", "status", "score", "chosen", "edge"])
        for label, model, task, choice in entries:
            for s in choice.scores:
                chosen = s.point == choice.point
                writer.writerow(
                    [label, model, task, tune.describe_point(s.point), s.status or "todo", _score(s, experiment.scale),
                     int(chosen), int(chosen and bool(choice.edges))]
                )  # fmt: skip
        return buf.getvalue()
    if fmt_name != "md":
        raise ValueError(f"--tuning renders md or csv, not {fmt_name!r}")
    text = [
        f"### Tuning: {experiment.title}",
        "",
        f"- {tune.describe_protocol(experiment)}.",
        f"- score = best epoch's {'held-out' if experiment.tune.protocol == 'holdout' else 'dev'} main metric "
        f"(x{experiment.scale:g}); **bold** = chosen (ties: the smaller value); `edge` = the choice is an end of the "
        "grid (the optimum may lie outside: widen it); `todo` = not run yet.",
        "",
        "| row | model | task | grid point: score | chosen |",
        "|---|---|---|---|---|",
    ]
    for label, model, task, choice in entries:
        points = []
        for s in choice.scores:
            item = f"{tune.describe_point(s.point)}: {_score(s, experiment.scale)}"
            points.append(f"**{item}**" if s.point == choice.point else item)
        if choice.point is None:
            chosen = "-"
        else:
            chosen = tune.describe_point(choice.point) + (" (edge)" if choice.edges else "")
        text.append(f"| {label} | {model} | {task} | {' · '.join(points)} | {chosen} |")
    return "\n".join(text) + "\n"
