"""Learning-rate (and any other knob's) selection for a paper table, derived from run records alone.

``bca-reproduce <experiment> --tune`` runs, for every (row, task), each point of the row's ``grid`` once
(``tune.seed``) and picks the best by the task's main metric; the table's seeds then run at that point.
Under the ``holdout`` protocol (the default) a grid point trains on the training set minus a seeded,
stratified slice (``task.holdout``) and is scored on that slice, so the reported dev split plays no part in
the choice; under ``dev`` (the papers' protocol, asked for explicitly) grid points are ordinary dev runs.

Every grid point is an ordinary run with its own record (resumable, locked, skipped when done), and the
choice is a pure function of those records, so rerunning the command, or ``bca-table``, finds the same one.
Ties go to the smaller values (an lr search should not reward the larger step for free). A choice at the
edge of the grid is flagged: the optimum may lie outside it, and the grid should be widened. With
``tune.widen: N`` that is done here: a choice at an end of a positive numeric (log-spaced) key adds the next
point beyond it, one step of the ratio at that end (2 significant digits), and the choice waits for it; up to
N times per (row, task). The widened grid is itself a function of the records, so every copy of the command
and ``bca-table`` grow it the same way.

Why a plain grid and not Optuna: with 3-5 points per (row, task) a sampler has nothing to learn from, a grid
makes every point a fixed config (so a run id, a record and a lock) that two processes can share, and the
tuning table shows the same points for every row. Optuna's ``GridSampler`` would add a study database to
keep in sync with the records without changing which points run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import yaml

from bca.paper import experiments
from bca.run.labels import record_row
from bca.run.records import HASH_NEUTRAL_DEFAULTS, dotted_get
from bca.tasks.metrics import LOWER_IS_BETTER


def better(metric: str) -> int:
    """+1 when a higher ``metric`` is better, -1 for the losses (the tables' rule, ``LOWER_IS_BETTER``)."""
    return -1 if metric in LOWER_IS_BETTER else 1


def grid_points(grid: dict[str, tuple]) -> list[tuple[tuple[str, object], ...]]:
    """Every combination of the grid's values, keys in file order: ((key, value), ...) per point."""
    keys = list(grid)
    return [tuple(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def tuning_extra(experiment: experiments.Experiment) -> tuple[str, ...]:
    """Overrides that make a grid point a selection run under the experiment's protocol (+ ``tune.overrides``)."""
    if experiment.tune.protocol == "dev":
        return experiment.tune.overrides
    return (
        f"task.holdout={experiments.override_value(experiment.tune.holdout)}",
        f"task.holdout_seed={experiment.tune.seed}",
        *experiment.tune.overrides,
    )


def tuning_cells(experiment, user_overrides=(), rows=None, tasks=None) -> list[experiments.Cell]:
    """One cell per grid point per (row, task) of rows that declare a grid; in table order. A row without one
    (a zero-shot baseline, a fixed reference) has nothing to select: its seeds run at its own values."""
    out = []
    for row, task in experiments.selected(experiment, rows, tasks):
        if not row.grid_for(task):
            continue
        for point in grid_points(row.grid_for(task)):
            out.append(
                experiments.cell(
                    experiment, row, task, experiment.tune.seed, user_overrides, point,
                    tuning_extra(experiment), tuning=True,
                )
            )  # fmt: skip
    return out


def config_value(config: dict, dotted: str):
    return dotted_get(config, dotted)


def same_value(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), abs(float(b)), 1e-300)
    return a == b


def ran_with(config: dict, overrides: tuple[str, ...]) -> bool:
    """Whether a record's config holds every ``key=value`` of ``overrides`` (``tune.overrides``), so a selection
    run made under other selection overrides (say, one that generated) is not mistaken for this protocol's."""
    for item in overrides:
        if item.startswith("~"):
            continue
        key, _, text = item.lstrip("+").partition("=")
        # a key the record predates holds the value runs had before it existed (records.HASH_NEUTRAL_DEFAULTS)
        got = dotted_get(config, key, HASH_NEUTRAL_DEFAULTS.get(tuple(key.split(".", 1))))
        if not same_value(got, yaml.safe_load(text)):
            return False
    return True


def record_point(record: dict, grid: dict[str, tuple]):
    """The grid point a record ran at, or None if one of its values is not on the grid."""
    point = []
    for key, values in grid.items():
        got = config_value(record["config"], key)
        match = next((v for v in values if same_value(v, got)), None)
        if match is None:
            return None
        point.append((key, match))
    return tuple(point)


def is_tuning_record(record: dict) -> bool:
    """A held-out selection run: its scores are on a slice of train, never a dev number to report."""
    return config_value(record["config"], "task.holdout") is not None


@dataclass
class PointScore:
    point: tuple
    status: str | None = None  # None: no finished record yet
    score: float | None = None  # best-epoch main metric (on the held-out slice under the holdout protocol)
    eval_set: dict | None = None  # the scored set's size and constant-predictor scores (bca.tasks.trivial)


@dataclass
class Choice:
    row: str
    task: str
    metric: str | None
    scores: list[PointScore]
    point: tuple | None = None  # None: not decidable yet (missing points) or no point trained ok
    edges: list[str] = field(default_factory=list)  # grid keys whose chosen value is the smallest or largest
    grid: dict[str, tuple] = field(default_factory=dict)  # the searched grid, with any points tune.widen added
    widened: list[tuple[str, object]] = field(default_factory=list)  # (key, value) added beyond the file's grid

    @property
    def complete(self) -> bool:
        return all(s.status is not None for s in self.scores)

    def describe(self) -> str:
        def fmt(p):
            return ", ".join(f"{k}={experiments.override_value(v)}" for k, v in p)

        parts = [
            f"{fmt(s.point)}: " + (f"{s.score:.4f}" if s.score is not None else (s.status or "todo"))
            for s in self.scores
        ]
        head = f"{self.row} / {self.task}: "
        if self.widened:
            head += "grid widened with " + ", ".join(f"{k}={experiments.override_value(v)}" for k, v in self.widened)
            head += "; "
        if self.point is None:
            why = "waiting for grid points" if not self.complete else "no grid point trained ok"
            return head + f"no choice ({why}); " + "; ".join(parts)
        edge = f" [at the edge of the grid in {', '.join(self.edges)}: widen it]" if self.edges else ""
        return head + f"chose {fmt(self.point)} by {self.metric}{edge}; " + "; ".join(parts)


def best_score(record: dict, metric: str | None = None) -> tuple[str | None, float | None]:
    """(metric, score) of a selection run: its best epoch's main metric, or with ``metric`` (``tune.metric``,
    e.g. a decoder's ``heldout_loss``) the best value of that figure over its evaluations."""
    metrics = record.get("metrics") or {}
    if metric is not None:
        values = [e["eval"][metric] for e in metrics.get("epochs") or [] if metric in (e.get("eval") or {})]
        if record.get("status") != "ok" or not values:
            return metric, None
        return metric, float(max(values, key=lambda v: better(metric) * v))
    best = metrics.get("best")
    name = metrics.get("metric_for_best")
    if record.get("status") != "ok" or not best or name not in (best.get("eval") or {}):
        return name, None
    return name, float(best["eval"][name])


def next_value(values: tuple, edge) -> float | None:
    """The value one step beyond ``edge`` (an end of ``values``) at the ratio of that end's two values; None
    for keys that are not positive numbers (a choice among names cannot be widened)."""
    if len(values) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        return None
    ordered = sorted(float(v) for v in values)
    if same_value(edge, ordered[-1]):
        new = ordered[-1] * ordered[-1] / ordered[-2]
    else:
        new = ordered[0] * ordered[0] / ordered[1]
    return float(f"{new:.2g}")


def choose(row: experiments.Row, task: str, found: list[dict], tune: experiments.Tune) -> Choice:
    """The best grid point of ``row`` on ``task`` among ``found`` (records of this row and task), on the
    row's grid grown by up to ``tune.widen`` steps beyond the end where the choice sits."""
    grid, widened = dict(row.grid_for(task)), []
    while True:
        choice = _choose_on(row, task, grid, found, tune)
        choice.grid, choice.widened = dict(grid), list(widened)
        if choice.point is None or not choice.edges or len(widened) >= tune.widen:
            return choice
        grew = False
        for key in choice.edges:
            new = next_value(grid[key], dict(choice.point)[key])
            if new is not None and not any(same_value(new, v) for v in grid[key]):
                grid[key] = tuple(sorted((*grid[key], new), key=_order))
                widened.append((key, new))
                grew = True
        if not grew:
            return choice


def _choose_on(row: experiments.Row, task: str, grid: dict, found: list[dict], tune: experiments.Tune) -> Choice:
    wanted_holdout = None if tune.protocol == "dev" else tune.holdout
    scores = {p: PointScore(p) for p in grid_points(grid)}
    metric = None
    for rec in found:
        cfg = rec["config"]
        if cfg["task"]["name"] != task or config_value(cfg, "trainer.seed") != tune.seed:
            continue
        holdout = config_value(cfg, "task.holdout")
        if not (holdout is wanted_holdout or same_value(holdout, wanted_holdout)):
            continue  # another protocol's runs (dev-scored vs held-out-scored never mix)
        if not ran_with(cfg, tune.overrides):
            continue
        point = record_point(rec, grid)
        if point is None or rec.get("status") not in ("ok", "diverged"):
            continue  # off the grid, or failed/running: not final, it will be resumed
        name, score = best_score(rec, tune.metric)
        metric = metric or name
        scores[point] = PointScore(point, rec["status"], score, rec.get("eval_set"))
    choice = Choice(row.label, task, metric, list(scores.values()))
    if not choice.complete:
        return choice
    scored = [s for s in choice.scores if s.score is not None]
    if not scored:
        return choice
    sign = better(metric)
    # highest score first; ties: smaller values, key by key in grid order
    best = min(scored, key=lambda s: (-sign * s.score, tuple(_order(v) for _, v in s.point)))
    choice.point = best.point
    choice.edges = [
        key
        for key, value in best.point
        if len(grid[key]) > 1 and value in (min(grid[key], key=_order), max(grid[key], key=_order))
    ]
    return choice


def _order(value):
    return (0, float(value), "") if isinstance(value, (int, float)) else (1, 0.0, str(value))


def row_records(found: list[dict], label: str) -> list[dict]:
    """Records tagged with this row (``bca-reproduce`` tags every cell ``row:<label>``)."""
    return [r for r in found if record_row(r) == label]


def choices(experiment: experiments.Experiment, found: list[dict], rows=None, tasks=None) -> dict:
    """(row label, task) -> Choice for every row with a grid, from the records in ``found``."""
    out = {}
    for row, task in experiments.selected(experiment, rows, tasks):
        if row.grid_for(task):
            out[(row.label, task)] = choose(row, task, row_records(found, row.label), experiment.tune)
    return out


def chosen_points(found: list[dict], experiment) -> dict[tuple[str, str, str], Choice]:
    """(row, model, task) -> the choice made from this experiment's selection runs (rows with a grid; its
    ``point`` is set). The whole choice, not just its point: a table flags a choice at a grid end."""
    if experiment is None:
        return {}
    picks = {}
    for model in sorted({r["config"]["model"]["name"] for r in found}):
        mine = [r for r in found if r["config"]["model"]["name"] == model]
        for (label, task), choice in choices(experiment, mine).items():
            if choice.point is not None:
                picks[(label, model, task)] = choice
    return picks


def at_chosen_point(record: dict, experiment, picks) -> bool:
    """Records of a tuned row count only at its chosen point (a grid row without a choice yet: none of them)."""
    if experiment is None:
        return True
    cfg = record["config"]
    label = record_row(record)
    row = next((r for r in experiment.rows if r.label == label), None)
    if row is None or not row.grid_for(cfg["task"]["name"]):
        return True
    choice = picks.get((label, cfg["model"]["name"], cfg["task"]["name"]))
    # by value, not by the file's grid: a point tune.widen added is not in it
    return choice is not None and all(same_value(config_value(cfg, key), value) for key, value in choice.point)


def describe_point(point) -> str:
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={experiments.override_value(v)}" for key, v in point)


def describe_chosen(choice: Choice) -> str:
    """The chosen point as tables show it; "(edge)": an end of its grid (widened or not), the optimum may lie beyond."""
    return describe_point(choice.point) + (" (edge)" if choice.edges else "")
