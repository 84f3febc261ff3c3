"""Paper tables as data: ``experiments/<name>.yaml`` -> the list of runs (cells x seeds) that rebuild it.

An experiment file holds the published numbers and, per row and task, the overrides that rebuild each cell
(the paper's per-task hyperparameters). It is plain YAML, not a Hydra config: a cell's run config is still
composed by Hydra from ``configs/`` with the cell's overrides, so every run is validated like ``bca-run``.

Override precedence, lowest first: the experiment's ``common`` overrides, its per-task ones, the row's, the
row's per-task ones, then the user's (``bca-reproduce fourierft_table2 model=minilm-l6 trainer.epochs=3``),
then the seed.
Overrides are merged by key, so a user's ``model=minilm-l6`` replaces a row's ``model=roberta-base``
instead of Hydra rejecting two values for one group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
ROW_TAG = "row:"
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


@dataclass(frozen=True)
class Cell:
    row: str
    task: str
    seed: int
    overrides: tuple[str, ...]


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
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ExperimentError(f"{path}: malformed experiment ({type(err).__name__}: {err})") from err


def _row(data: dict, columns: tuple[str, ...]) -> Row:
    published = {k: float(v) for k, v in (data.get("published") or {}).items()}
    tasks = {k: tuple(v or ()) for k, v in (data.get("tasks") or {}).items()}
    unknown = sorted((set(published) | set(tasks)) - set(columns))
    if unknown:
        raise ValueError(f"row {data['label']!r} names tasks {unknown} that are not columns {list(columns)}")
    return Row(
        label=str(data["label"]),
        overrides=tuple(data.get("overrides") or ()),
        published=published,
        published_params=data.get("published_params"),
        tasks=tasks,
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


def cells(
    experiment: Experiment,
    user_overrides=(),
    seeds=None,
    rows=None,
    tasks=None,
) -> list[Cell]:
    """Every (row, task, seed) run of the table, optionally filtered, with its merged overrides."""
    seeds = tuple(seeds) if seeds else experiment.seeds
    out = []
    for row in experiment.rows:
        if rows and row.label not in rows:
            continue
        for task in experiment.columns:
            if tasks and task not in tasks:
                continue
            for seed in seeds:
                overrides = merge_overrides(
                    (f"task={task}",),
                    experiment.common,
                    experiment.tasks.get(task, ()),
                    row.overrides,
                    row.tasks.get(task, ()),
                    user_overrides,
                    (
                        f"trainer.seed={seed}",
                        f"experiment={experiment.name}",
                        f"tags=['{ROW_TAG}{row.label}']",  # quoted: labels hold spaces and '='
                    ),
                )
                out.append(Cell(row=row.label, task=task, seed=seed, overrides=overrides))
    return out
