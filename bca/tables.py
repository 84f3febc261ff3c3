"""Records -> a paper-style table: per (row, task) the best-dev-epoch metric over seeds, beside the paper.

A record belongs to a row through its ``row:<label>`` tag (set by ``bca-reproduce``) or, for runs started
by hand or by a sweep, a label derived from its method settings. Each cell reports the median over seeds
(what FourierFT/VeRA report) and mean ± std (what C3A reports) of the best dev epoch's main metric; runs
that diverged or failed are counted, not averaged. Output is deterministic: the same records always render
the same bytes (sorted keys, fixed number formats, no timestamps).

With several seeds a cell is marked when it differs from the reference row (``--reference``; the experiment's
``reference``; else the first LoRA row) at p < 0.05 by Welch's t-test (``bca.stats``). Held-out selection runs
(``task.holdout``) are never table cells; for rows with a ``grid`` only the records at the point chosen by
``bca.tune`` count, and the chosen values are printed under the row (``--tuning`` renders every grid point).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bca import experiments, records, table_metric, tune


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    not_ok: dict[str, int] = field(default_factory=dict)
    p_value: float | None = None  # Welch's t-test against the reference row's cell (None: not testable)

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


def method_label(method: dict) -> str:
    """A row label for records without a row tag: the method and its settings (its registration, bca.methods)."""
    from bca.methods import row_label

    return row_label(method)


def row_label(record: dict) -> str:
    tagged = tune.record_row(record)
    if tagged:
        return tagged
    if (record["config"].get("trainer") or {}).get("max_steps") == 0:
        return "zero-shot"  # evaluated untrained (trainer.max_steps=0): the base model whatever the method
    return method_label(record["config"]["method"])


def best_metric(record: dict) -> float | None:
    best = (record.get("metrics") or {}).get("best")
    if record["status"] != "ok" or not best:
        return None
    return float(best["eval"][record["metrics"]["metric_for_best"]])


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

    ``metric``: show this eval figure of the best dev epoch instead of its main metric (``bca.table_metric``).
    """
    if experiment is not None:
        found = [r for r in found if r["config"].get("experiment") == experiment.name]
    held_out = sum(tune.is_tuning_record(r) for r in found)
    picks = tune.chosen_points(found, experiment)
    found = [r for r in found if not tune.is_tuning_record(r) and tune.at_chosen_point(r, experiment, picks)]
    scale = table_metric.scale(metric, experiment.scale if experiment else 100.0)
    rows: dict[tuple[str, str], Row] = {}
    for rec in found:
        cfg = rec["config"]
        key = (row_label(rec), cfg["model"]["name"])
        row = rows.setdefault(key, Row(label=key[0], model=key[1]))
        cell = row.cells.setdefault(cfg["task"]["name"], Cell())
        value = table_metric.cell_value(rec, metric)
        if value is None:
            why = table_metric.missing_reason(rec, metric)
            cell.not_ok[why] = cell.not_ok.get(why, 0) + 1
        else:
            cell.values.append(value * scale)
        row.adapter_params.add(int(rec["params"]["adapter"]))
    for row in rows.values():
        for cell in row.cells.values():
            cell.values.sort()  # order-independent statistics, whatever order the files were read in
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
            row.chosen = {task: tune.describe_point(point) for (label, model, task), point in picks.items()
                          if label == row.label and model == row.model}  # fmt: skip
    ref = reference_row(ordered, reference or (experiment.reference if experiment else None))
    mark_significance(ordered, ref)
    protocol = (
        tune.describe_protocol(experiment) if picks or (experiment and any(r.grid for r in experiment.rows)) else None
    )
    reports += table_metric.describe(metric)
    return Table(
        title, reports, columns, ordered, describe_ours(found), sorted(damaged),
        reference=ref.label if ref else None, protocol=protocol, held_out_runs=held_out, records=found,
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
    from bca.stats import welch_p

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
        return f"{steps} steps" if steps else f"{c['trainer']['epochs']} epochs"

    return (
        f"ours = best dev epoch over {len(found)} record(s); models: {values(lambda c: c['model']['name'])}; "
        f"length: {values(length)}; seeds: {values(lambda c: c['trainer']['seed'])}; "
        f"train rows: {values(lambda c: c['task']['max_train_samples'] or 'all')}"
    )


def average(values: list[float | None]) -> float | None:
    """The papers' avg column: the plain mean over tasks, only when every task has a number."""
    return statistics.fmean(values) if values and all(v is not None for v in values) else None


def main(argv=None) -> int:
    from bca.render import FORMATS, render

    parser = argparse.ArgumentParser(prog="bca-table", description="Aggregate run records into a table.")
    parser.add_argument("records_dir", help="a results dir (holding records/) or a records folder")
    parser.add_argument("--format", choices=sorted(FORMATS), default="md")
    parser.add_argument("--experiment", help="keep only this experiment's runs and show its published numbers")
    parser.add_argument("--out", help="write here instead of stdout")
    parser.add_argument("--metric", help="cells show this eval figure of the best dev epoch (e.g. heldout_loss)")
    parser.add_argument("--plots", help="also write PNG plots (score vs params, block size, curves) to this dir")
    parser.add_argument("--reference", help="row label cells are tested against (default: the first LoRA row)")
    parser.add_argument(
        "--tuning", action="store_true", help="render the tuning table (score per grid point; needs --experiment)"
    )
    parser.add_argument("--costs", action="store_true", help="also per row: params, FLOPs/token, step time, memory")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        found, damaged = find_records(Path(args.records_dir))
        exp = experiments.load(args.experiment) if args.experiment else None
    except (FileNotFoundError, experiments.ExperimentError) as err:
        print(f"[bca-table] {err}", file=sys.stderr)
        return 2
    if args.tuning and exp is None:
        print("[bca-table] --tuning needs --experiment (the grid is declared there)", file=sys.stderr)
        return 2
    try:
        if args.tuning:
            from bca.render_tuning import tuning_table

            text = tuning_table(found, exp, args.format)
        else:
            table = build(found, exp, damaged, args.reference, args.metric)
            text = render(table, args.format)
            if args.costs:
                from bca.cost_table import render_costs

                text += "\n" + render_costs(table, table.records, args.format)
    except ValueError as err:
        print(f"[bca-table] {err}", file=sys.stderr)
        return 2
    if args.plots:
        from bca.plots import write_all

        kept = build(found, exp, damaged, args.reference).records  # the table's own records, not selection runs
        for path in write_all(kept, Path(args.plots)):
            print(f"[bca-table] plot: {path}", file=sys.stderr)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
