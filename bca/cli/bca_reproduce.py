"""``bca-reproduce <experiment> [overrides]``: run every cell of a paper table, resuming finished runs.

Every cell's config is composed (and so validated) before the first run starts, so a typo in an
experiment file or an override costs seconds, not a night. Runs execute one after another in this process;
each writes its own record keyed by its config hash, so an interrupted reproduction resumes where it stopped
(finished records are skipped) and a run that diverges or crashes is recorded and the table goes on. A cell
that another live process is training (bca.run.lock) is left to it, so several copies of the same command,
started side by side, share the table.

With ``--tune`` every row that declares a ``grid`` first runs each grid point once (selection runs, see
``bca.paper.tune``), then its seeds at the chosen point; several copies share that too, waiting for each other's
grid points when nothing else is left (``--poll``).
"""

from __future__ import annotations

import argparse
import sys

from bca.paper import experiments
from bca.paper.reproduce_cells import compose_cells, run_all
from bca.run import records


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bca-reproduce",
        description="Run every (row, task, seed) cell of experiments/<experiment>.yaml; finished runs are skipped.",
    )
    parser.add_argument("experiment", help=f"one of: {', '.join(experiments.available())} (or a .yaml path)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every cell, e.g. model=minilm-l6")
    parser.add_argument("--seeds", help="comma-separated seeds instead of the experiment's")
    parser.add_argument("--rows", help="comma-separated row labels to run (default: all)")
    parser.add_argument("--tasks", help="comma-separated tasks to run (default: all columns)")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and their status, run nothing")
    parser.add_argument(
        "--tune",
        action="store_true",
        help="search each row's grid first (one seed, selected on the experiment's tune protocol: a held-out "
        "slice of train by default), then run the seeds at the chosen point",
    )
    parser.add_argument(
        "--poll", type=float, default=60.0, help="--tune: seconds between checks while other copies hold the rest"
    )
    return parser.parse_intermixed_args(argv)  # overrides may come after the options


def _split(text: str | None):
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        experiment = experiments.load(args.experiment)
        seeds = [int(s) for s in _split(args.seeds)] if args.seeds else None
        cells = experiments.cells(experiment, args.overrides, seeds, _split(args.rows), _split(args.tasks))
        if not cells:
            raise experiments.ExperimentError("the filters select no cell (check --rows/--tasks spelling)")
        if args.tune:
            from bca.paper.reproduce_tune import TunePlan

            plan = TunePlan.build(experiment, args.overrides, seeds, _split(args.rows), _split(args.tasks))
        composed = compose_cells(experiment, cells)
    except (experiments.ExperimentError, ValueError) as err:
        print(f"[bca-reproduce] {err}", file=sys.stderr)
        return 2
    from bca.config.preflight import cell_problems

    checked = composed + ([c for g in plan.groups for c in g.grid] if args.tune else [])
    problems = cell_problems(checked)  # every cell fully, before the first run (README)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        print(f"[bca-reproduce] invalid cells, nothing ran:\n{listed}", file=sys.stderr)
        return 2
    if args.tune and args.dry_run:
        return plan.dry_run()
    if args.tune:
        return _stopping(lambda: plan.run(args.poll))
    done = sum(records.finished(path) for _, _, path in composed)
    print(f"[bca-reproduce] {experiment.title}: {len(composed)} runs, {done} already finished")
    if args.dry_run:
        from bca.paper.progress import summary

        for cell, _, path in composed:
            state = "done" if records.finished(path) else "todo"
            print(f"  [{state}] {cell.row} / {cell.task} / seed {cell.seed}  -> {path}")
        print(f"[bca-reproduce] {summary(composed)}")
        return 0
    return _stopping(lambda: run_all(composed))


def _stopping(work) -> int:
    """Run ``work``; a full disk (every later cell would hit it too) or Ctrl-C ends the table with its code."""
    from bca.run.disk import DiskFull

    try:
        return work()
    except DiskFull as err:
        print(f"[bca-reproduce] {err}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        return 130  # the runner has said where the record is and how to resume
