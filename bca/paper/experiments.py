"""Paper tables as data: ``experiments/<name>.yaml`` -> the list of runs (cells x seeds) that rebuild it.

An experiment file holds the published numbers and, per row and task, the overrides that rebuild each cell
(the paper's per-task hyperparameters). It is plain YAML, not a Hydra config: a cell's run config is still
composed by Hydra from ``configs/`` with the cell's overrides, so every run is validated like ``bca-run``.

Override precedence, lowest first: the experiment's ``common`` overrides, its per-task ones, the row's, the
row's per-task ones, then the user's (``bca-reproduce fourierft_table2 model=minilm-l6 trainer.epochs=3``),
then the seed. With ``bca-reproduce --tune`` a row's ``grid`` point comes last (see ``bca.paper.tune``).
Overrides are merged by key, so a user's ``model=minilm-l6`` replaces a row's ``model=roberta-base``
instead of Hydra rejecting two values for one group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bca.run.labels import ROW_TAG  # noqa: F401 (experiments.ROW_TAG: the tag every cell carries)

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments"
"""Runs carry ``tags=[row:<label>]`` so a table groups them by the paper's row without guessing."""


class ExperimentError(ValueError):
    """An experiment file is missing or malformed; the message says which file and what is wrong."""


@dataclass(frozen=True)
class Row:
    label: str  # no single quotes (it is passed quoted in a Hydra override)
    overrides: tuple[str, ...]
    published: dict[str, float]
    published_params: str | None = None
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    grid: dict[str, tuple] = field(default_factory=dict)  # config key -> values searched by --tune
    grid_tasks: dict[str, dict[str, tuple]] = field(default_factory=dict)  # per task, replacing grid's keys
    seeds: tuple[int, ...] | None = None  # this row's final seeds instead of the experiment's

    def grid_for(self, task: str) -> dict[str, tuple]:
        """The search space of this row on ``task``: the row's grid, with the task's own lists winning."""
        return {**self.grid, **self.grid_tasks.get(task, {})}


TUNE_PROTOCOLS = ("holdout", "dev")
"""holdout: grid points train on train minus a stratified slice and are scored on it (dev never seen);
dev: the papers' protocol, grid points are ordinary runs scored on the reported dev split."""


@dataclass(frozen=True)
class Tune:
    protocol: str = "holdout"
    holdout: float = 0.1  # fraction (or row count) of the training set held out for selection
    seed: int = 0  # the one seed of every grid point (and of the held-out slice)
    metric: str | None = None  # select by this eval figure (losses: lower is better); None: the task's main metric
    widen: int = 0  # a choice at a grid end adds the next point beyond it, up to this many times (bca.paper.tune)
    # overrides only the selection runs get (decoders: [task.generate=false, task.metric_for_best=heldout_loss]:
    # a run that is picked by its held-out loss need not generate); the seeds at the chosen point run without them
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    reports: str
    columns: tuple[str, ...]
    seeds: tuple[int, ...]
    common: tuple[str, ...]
    rows: tuple[Row, ...]
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per-task overrides for every row
    scale: float = 100.0  # records hold metrics in [0, 1]; papers print percentages
    tune: Tune = field(default_factory=Tune)
    reference: str | None = None  # the row others are tested against (significance marks); None: the first
    floors: dict[str, dict[str, float]] = field(default_factory=dict)  # row -> task -> a median it must clear


@dataclass(frozen=True)
class Cell:
    row: str
    task: str
    seed: int
    overrides: tuple[str, ...]
    point: tuple[tuple[str, object], ...] = ()  # the grid point this cell runs at ((key, value), ...)
    tuning: bool = False  # a grid-search run (scored on the held-out slice under the holdout protocol)


def available() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def experiment_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    path = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ExperimentError(f"unknown experiment {name_or_path!r}; valid: {', '.join(available())}")
    return path


def load(name_or_path: str) -> Experiment:
    path = experiment_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:  # a typo in a hand-edited table file: say where, not a parser traceback
        raise ExperimentError(f"{path}: not valid YAML: {err}") from None
    try:
        columns = tuple(data["columns"])
        rows = tuple(_row(r, columns) for r in data["rows"])
        return Experiment(
            name=data.get("name", path.stem),
            title=data["title"],
            reports=data["reports"],
            columns=columns,
            seeds=tuple(int(s) for s in data["seeds"]),
            common=tuple(data.get("common") or ()),
            rows=rows,
            tasks={k: tuple(v or ()) for k, v in (data.get("tasks") or {}).items()},
            scale=float(data.get("scale", 100.0)),
            tune=_tune(data.get("tune") or {}),
            reference=data.get("reference"),
            floors=_floors(data.get("floors") or {}, rows, columns),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ExperimentError(f"{path}: malformed experiment ({type(err).__name__}: {err})") from err


def _floors(data: dict, rows: tuple[Row, ...], columns: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``floors: {<row label>: {<task>: <median it must clear>}}``: a table's sanity lines (e.g. the reference
    row must learn every task), checked by ``bca-table --findings``."""
    labels = [r.label for r in rows]
    out = {}
    for label, per_task in data.items():
        if label not in labels:
            raise ValueError(f"floors: row {label!r} is not a row of this experiment; rows: {labels}")
        unknown = sorted(set(per_task) - set(columns))
        if unknown:
            raise ValueError(f"floors: {label!r} names tasks {unknown} that are not columns; columns: {list(columns)}")
        out[label] = {task: float(v) for task, v in per_task.items()}
    return out


def _tune(data: dict) -> Tune:
    keys = ("protocol", "holdout", "seed", "metric", "widen", "overrides")
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ValueError(f"tune has unknown keys {unknown}; valid: {', '.join(keys)}")
    extra = data.get("overrides", [])
    if not (isinstance(extra, list) and all(isinstance(o, str) and "=" in o.lstrip("+~") for o in extra)):
        raise ValueError(f"tune.overrides={extra!r}; give a list of Hydra overrides such as [task.generate=false]")
    tune = Tune(**{k: data[k] for k in keys if k in data and k != "overrides"}, overrides=tuple(extra))
    if tune.protocol not in TUNE_PROTOCOLS:
        raise ValueError(f"tune.protocol={tune.protocol!r}; valid: {', '.join(TUNE_PROTOCOLS)}")
    if not (isinstance(tune.holdout, (int, float)) and tune.holdout > 0):
        raise ValueError(f"tune.holdout={tune.holdout!r}; give a fraction in (0, 1) or a row count")
    if not (isinstance(tune.widen, int) and not isinstance(tune.widen, bool) and tune.widen >= 0):
        raise ValueError(f"tune.widen={tune.widen!r}; give how many points a grid may grow by (an int >= 0)")
    return tune


def grid_value(value):
    """A grid value as the config will hold it: YAML 1.1 reads ``1e-3`` as a string, the config as a float."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def _grid(data, where: str) -> dict[str, tuple]:
    grid = {}
    for key, values in (data or {}).items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: grid key {key!r} needs a non-empty list of values, got {values!r}")
        grid[str(key)] = tuple(grid_value(v) for v in values)
    return grid


def _row(data: dict, columns: tuple[str, ...]) -> Row:
    published = {k: float(v) for k, v in (data.get("published") or {}).items()}
    tasks = {k: tuple(v or ()) for k, v in (data.get("tasks") or {}).items()}
    label = str(data["label"])
    grid_tasks = {t: _grid(g, f"row {label!r} grid_tasks.{t}") for t, g in (data.get("grid_tasks") or {}).items()}
    unknown = sorted((set(published) | set(tasks) | set(grid_tasks)) - set(columns))
    if unknown:
        raise ValueError(f"row {label!r} names tasks {unknown} that are not columns {list(columns)}")
    seeds = data.get("seeds")
    return Row(
        label=label,
        overrides=tuple(data.get("overrides") or ()),
        published=published,
        published_params=data.get("published_params"),
        tasks=tasks,
        grid=_grid(data.get("grid"), f"row {label!r}"),
        grid_tasks=grid_tasks,
        seeds=tuple(int(s) for s in seeds) if seeds else None,
    )


def merge_overrides(*groups) -> tuple[str, ...]:
    """Concatenate override lists, a later ``key=value`` replacing an earlier one with the same key."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            if "=" not in override:
                raise ExperimentError(f"override {override!r} is not key=value")
            key = override.split("=", 1)[0].lstrip("+~")
            merged.pop(key, None)  # re-insert so the order shows precedence
            merged[key] = override
    return tuple(merged.values())


def override_value(value) -> str:
    """A value as a Hydra override spells it (floats in repr: 0.001, 1e-05)."""
    return repr(value) if isinstance(value, float) else str(value)


def point_overrides(point) -> tuple[str, ...]:
    return tuple(f"{key}={override_value(value)}" for key, value in point)


def cell(experiment: Experiment, row: Row, task: str, seed: int, user_overrides=(), point=(), extra=(), tuning=False):
    """One run of the table with its merged overrides (the grid point, if any, after the user's)."""
    overrides = merge_overrides(
        (f"task={task}",),
        experiment.common,
        experiment.tasks.get(task, ()),
        row.overrides,
        row.tasks.get(task, ()),
        user_overrides,
        point_overrides(point),
        extra,
        (
            f"trainer.seed={seed}",
            f"experiment={experiment.name}",
            f"tags=['{ROW_TAG}{row.label}']",  # quoted: labels hold spaces and '='
        ),
    )
    return Cell(row=row.label, task=task, seed=seed, overrides=overrides, point=tuple(point), tuning=tuning)


def selected(experiment: Experiment, rows=None, tasks=None):
    """(row, task) pairs of the table, in its order, optionally filtered."""
    return [
        (row, task)
        for row in experiment.rows
        if not rows or row.label in rows
        for task in experiment.columns
        if not tasks or task in tasks
    ]


def cells(
    experiment: Experiment,
    user_overrides=(),
    seeds=None,
    rows=None,
    tasks=None,
    points=None,
) -> list[Cell]:
    """Every (row, task, seed) run of the table, optionally filtered, with its merged overrides.

    ``points`` maps (row label, task) to a chosen grid point; those cells run at it (``bca-reproduce --tune``).
    """
    out = []
    for row, task in selected(experiment, rows, tasks):
        row_seeds = tuple(seeds) if seeds else (row.seeds or experiment.seeds)
        point = (points or {}).get((row.label, task), ())
        out += [cell(experiment, row, task, seed, user_overrides, point) for seed in row_seeds]
    return out
