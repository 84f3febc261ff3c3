"""Records -> a paper-style table: per (row, task) the best-dev-epoch metric over seeds, beside the paper.

A record belongs to a row through its ``row:<label>`` tag (set by ``bca-reproduce``) or, for runs started
by hand or by a sweep, a label derived from its method settings. Each cell reports the median over seeds
(what FourierFT/VeRA report) and mean ± std (what C3A reports) of the best dev epoch's main metric; runs
that diverged or failed are counted, not averaged. Output is deterministic: the same records always render
the same bytes (sorted keys, fixed number formats, no timestamps).

With several seeds a cell is marked when it differs from the reference row (``--reference``; the experiment's
``reference``; else the first LoRA row) at p < 0.05 by Welch's t-test (``bca.report.stats``). Held-out selection runs
(``task.holdout``) are never table cells; for rows with a ``grid`` only the records at the point chosen by
``bca.paper.tune`` count, and the chosen values are printed under the row (``--tuning`` renders every grid point).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bca.paper import experiments, tune
from bca.report import frame, table_metric
from bca.report.protocol import describe_protocol
from bca.run import records
from bca.run.labels import method_label, row_label  # noqa: F401 (re-exported for the report modules)


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    not_ok: dict[str, int] = field(default_factory=dict)
    p_value: float | None = None  # Welch's t-test against the reference row's cell (None: not testable)
    at_trivial: int = 0  # seeds whose value does not beat the eval set's constant predictor (bca.tasks.trivial)
    untested: int = 0  # seeds with a value but no constant-predictor facts (records from before they existed)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None


@dataclass
class Row:
    label: str
    model: str
    cells: dict[str, Cell] = field(default_factory=dict)
    adapter_params: set[int] = field(default_factory=set)
    published: dict[str, float] = field(default_factory=dict)
    published_params: str | None = None
    chosen: dict[str, str] = field(default_factory=dict)  # task -> the grid point its runs use ("lr=1e-3")
    untrained: bool = False  # every run trained 0 steps (zero-shot): adapter_params is the adapter at init


@dataclass
class Table:
    title: str
    reports: str
    columns: list[str]
    rows: list[Row]
    ours: str  # what our numbers are (model, epochs, seeds, data): printed with the table
    damaged: list[str] = field(default_factory=list)
    reference: str | None = None  # the row cells are tested against
    protocol: str | None = None  # how the chosen values were selected (None: no grid)
    held_out_runs: int = 0  # selection runs left out of the table (their scores are not dev numbers)
    records: list[dict] = field(default_factory=list)  # the records the cells were built from (plots read these)
    metric: str | None = None  # the figure in the cells (None: each run's main metric; ``bca.report.table_metric``)


def natural_key(key: tuple[str, str]) -> tuple:
    """Sort "p=16" before "p=384" (numbers by value), so sweep rows come out in order."""
    return tuple(tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", part)) for part in key)


def find_records(directory: Path) -> tuple[list[dict], list[str]]:
    """Readable records under ``directory`` (a results dir or its records/ folder) and the damaged paths."""
    directory = Path(directory)
    if (directory / "records").is_dir():
        directory = directory / "records"
    if not directory.is_dir():
        raise FileNotFoundError(f"no records directory at {directory}")
    damaged: list[str] = []

    def note(path, err):
        records.warn_damaged(path, err)
        damaged.append(str(path))

    found = [rec for _, rec in records.iter_records(directory, on_damaged=note)]
    return found, damaged


def build(
    found: list[dict],
    experiment: experiments.Experiment | None = None,
    damaged=(),
    reference: str | None = None,
    metric: str | None = None,
) -> Table:
    """Group records into rows x tasks; with an experiment, keep its row order and add its published numbers.

    ``metric``: show this eval figure of the best dev epoch instead of its main metric (``bca.report.table_metric``).
    """
    if experiment is not None:
        found = [r for r in found if r["config"].get("experiment") == experiment.name]
    held_out = sum(tune.is_tuning_record(r) for r in found)
    picks = tune.chosen_points(found, experiment)
    found = [r for r in found if not tune.is_tuning_record(r) and tune.at_chosen_point(r, experiment, picks)]
    scale = table_metric.scale(metric, experiment.scale if experiment else 100.0)
    rows: dict[tuple[str, str], Row] = {}
    for (label, model), runs in frame.runs_frame(found, metric).groupby(["label", "model"], sort=False):
        row = rows[(label, model)] = Row(
            label=label, model=model, adapter_params={int(n) for n in runs.adapter_params},
            untrained=bool(runs.untrained.all()),
        )  # fmt: skip
        for task, cell_runs in runs.groupby("task", sort=False):
            not_ok = cell_runs["missing"].dropna().value_counts(sort=False)
            # sorted: order-independent statistics, whatever order the files were read in
            scored = cell_runs[cell_runs["missing"].isna()]
            row.cells[task] = Cell(
                values=sorted(v * scale for v in frame.values(cell_runs)),
                not_ok={str(why): int(n) for why, n in not_ok.items()},
                at_trivial=int((scored["at_trivial"] == True).sum()),  # noqa: E712 (object column: True/False/None)
                untested=int(scored["at_trivial"].isna().sum()),
            )
    if experiment is None:
        columns = sorted({t for row in rows.values() for t in row.cells})
        ordered = [rows[k] for k in sorted(rows, key=natural_key)]
        title, reports = "Results", "best dev epoch; median and mean ± std over seeds"
    else:
        columns, ordered = list(experiment.columns), []
        for exp_row in experiment.rows:
            matching = [rows.pop(k) for k in sorted(rows) if k[0] == exp_row.label]
            for row in matching or [Row(label=exp_row.label, model="-")]:
                row.published, row.published_params = exp_row.published, exp_row.published_params
                ordered.append(row)
        ordered += [rows[k] for k in sorted(rows, key=natural_key)]  # records of this experiment outside its rows
        title, reports = experiment.title, experiment.reports
        for row in ordered:
            row.chosen = {task: tune.describe_chosen(choice) for (label, model, task), choice in picks.items()
                          if label == row.label and model == row.model}  # fmt: skip
    ref = reference_row(ordered, reference or (experiment.reference if experiment else None))
    mark_significance(ordered, ref)
    protocol = describe_protocol(experiment) if picks or (experiment and any(r.grid for r in experiment.rows)) else None
    reports += table_metric.describe(metric)
    return Table(
        title, reports, columns, ordered, describe_ours(found), sorted(damaged),
        reference=ref.label if ref else None, protocol=protocol, held_out_runs=held_out, records=found,
        metric=metric,
    )  # fmt: skip


def reference_row(rows: list[Row], wanted: str | None) -> Row | None:
    """The row others are tested against: ``wanted`` by label, else the first LoRA row (None if absent)."""
    if wanted:
        found = [r for r in rows if r.label == wanted]
        if not found:
            raise ValueError(f"reference row {wanted!r} is not in the table; rows: {[r.label for r in rows]}")
        return found[0]
    return next((r for r in rows if r.label.lower().startswith("lora") and r.cells), None)


def mark_significance(rows: list[Row], ref: Row | None) -> None:
    from bca.report.stats import welch_p

    if ref is None:
        return
    for row in rows:
        if row is ref or row.model != ref.model:
            continue
        for task, cell in row.cells.items():
            other = ref.cells.get(task)
            cell.p_value = welch_p(cell.values, other.values) if other else None


def describe_ours(found: list[dict]) -> str:
    """What our numbers are, from the records themselves: nobody should mistake them for paper numbers."""

    def values(get):
        seen = sorted({str(get(r["config"])) for r in found})
        return ", ".join(seen) if seen else "-"

    def length(c):
        steps = c["trainer"]["max_steps"]
        return f"{steps} steps" if steps is not None else f"{c['trainer']['epochs']} epochs"  # 0: zero-shot

    return (
        f"ours = best dev epoch over {len(found)} record(s); models: {values(lambda c: c['model']['name'])}; "
        f"length: {values(length)}; seeds: {values(lambda c: c['trainer']['seed'])}; "
        f"train rows: {values(lambda c: c['task']['max_train_samples'] or 'all')}{provenance(found)}"
    )


def provenance(found: list[dict]) -> str:
    """'; code: <commit> (n runs), ...; dirty trees: k' from the records' git fields ('' when none has one)."""
    commits = Counter(str((r.get("git") or {}).get("commit") or "")[:7] for r in found)
    commits.pop("", None)
    if not commits:
        return ""
    dirty = sum(bool((r.get("git") or {}).get("dirty")) for r in found)
    listed = ", ".join(f"{c} ({n})" for c, n in sorted(commits.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"; code: {listed}; runs from dirty trees: {dirty}"


def average(values: list[float | None]) -> float | None:
    """The papers' avg column: the plain mean over tasks, only when every task has a number."""
    return statistics.fmean(values) if values and all(v is not None for v in values) else None
