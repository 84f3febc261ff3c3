"""The tuning table: every grid point's selection score per (row, task), the chosen one marked.

It is what a reader needs to judge the choice: whether the grid brackets the optimum (an edge choice says
widen it), and how flat the score is around it. Rendered from the same records as the main table.
"""

from __future__ import annotations

import csv
import io

from bca.paper import tune
from bca.report.protocol import describe_protocol
from bca.report.render import TRIVIAL
from bca.report.stats import ALPHA, at_trivial
from bca.report.table_metric import UNSCALED


def _trivial(s: tune.PointScore, metric: str | None) -> bool | None:
    """Whether this grid point's score fails to beat its scored set's constant predictor (None: not testable)."""
    return None if s.score is None or metric is None else at_trivial(metric, s.score, s.eval_set)


def _score(s: tune.PointScore, scale: float, metric: str | None = None) -> str:
    if s.score is not None:
        if metric in UNSCALED:  # a loss (tune.metric: heldout_loss), in nats per token as recorded
            return f"{s.score:.4f}"
        return f"{scale * s.score:.2f}" + (TRIVIAL if _trivial(s, metric) else "")
    return s.status or "todo"


def trivial_everywhere(choice: tune.Choice) -> bool:
    """Every grid point ran and none beats the constant predictor: the row learned nothing on this task."""
    return choice.complete and all(_trivial(s, choice.metric) is True for s in choice.scores)


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
                    [label, model, task, tune.describe_point(s.point), s.status or "todo",
                     _score(s, experiment.scale, choice.metric if choice.metric in UNSCALED else None),
                     int(chosen), int(chosen and bool(choice.edges))]
                )  # fmt: skip
        return buf.getvalue()
    if fmt_name != "md":
        raise ValueError(f"--tuning renders md or csv, not {fmt_name!r}")
    where = "held-out" if experiment.tune.protocol == "holdout" else "dev"
    loss = experiment.tune.metric in UNSCALED
    score = (
        f"the selection run's {where} {experiment.tune.metric} (nats/token, lower is better)"
        if loss
        else f"best epoch's {where} main metric (x{experiment.scale:g})"
    )
    text = [
        f"### Tuning: {experiment.title}",
        "",
        f"- {describe_protocol(experiment)}.",
        f"- score = {score}; **bold** = chosen (ties: the smaller value); `edge` = the choice is an end of the "
        "grid (the optimum may lie outside: widen it); `todo` = not run yet.",
        "",
        "| row | model | task | grid point: score | chosen |",
        "|---|---|---|---|---|",
    ]
    for label, model, task, choice in entries:
        points = []
        for s in choice.scores:
            item = f"{tune.describe_point(s.point)}: {_score(s, experiment.scale, choice.metric)}"
            points.append(f"**{item}**" if s.point == choice.point else item)
        if choice.point is None:
            chosen = "-"
        else:
            chosen = tune.describe_chosen(choice)
        text.append(f"| {label} | {model} | {task} | {' · '.join(points)} | {chosen} |")
    nothing = [f"{label} on {task} ({model})" for label, model, task, choice in entries if trivial_everywhere(choice)]
    untested = sum(
        s.score is not None and _trivial(s, choice.metric) is None for *_, choice in entries for s in choice.scores
    )
    if loss:  # a loss has no constant-predictor line to test against
        return "\n".join(text) + "\n"
    text += [
        "",
        f"{TRIVIAL} = the point's score does not beat its held-out slice's best constant predictor (majority class; "
        f"MCC or Pearson 0) at p < {ALPHA:g}, one-sided. At the constant predictor at every grid point: "
        + ("; ".join(nothing) + " (their training curves: `plots/curves_<task>.png`)." if nothing else "none.")
        + (f" Not tested: {untested} scored point(s) whose records predate the eval-set facts." if untested else ""),
    ]
    return "\n".join(text) + "\n"
