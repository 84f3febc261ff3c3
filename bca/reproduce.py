"""``bca-reproduce <experiment> [overrides]``: run every cell of a paper table, resuming finished runs.

Every cell's config is composed (and so validated) before the first run starts, so a typo in an
experiment file or an override costs seconds, not a night. Runs execute one after another in this process;
each writes its own record keyed by its config hash, so an interrupted reproduction resumes where it stopped
(finished records are skipped) and a run that diverges or crashes is recorded and the table goes on. A cell
that another live process is training (bca.run_lock) is left to it, so several copies of the same command,
started side by side, share the table.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from tqdm.auto import tqdm

from bca import experiments, records


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
    return parser.parse_intermixed_args(argv)  # overrides may come after options, as in the README


def _split(text: str | None):
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def compose_cells(experiment, cells):
    """Compose every cell (validating its overrides); raise one error listing every cell that fails."""
    from omegaconf import OmegaConf

    from bca.hydra_app import composer

    composed, problems = [], []
    with composer() as compose:
        for cell in cells:
            try:
                cfg = compose(cell.overrides)
            except Exception as err:  # Hydra's errors: unknown group value, key, type
                problems.append(f"{cell.row} / {cell.task} / seed {cell.seed}: {err}")
                continue
            rid = records.run_id(OmegaConf.to_container(cfg, resolve=True))
            composed.append((cell, cfg, records.record_path(cfg.results_dir, rid)))
    if problems:
        raise experiments.ExperimentError(
            f"{experiment.name}: {len(problems)} cell(s) do not compose:\n  " + "\n  ".join(problems)
        )
    return composed


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        experiment = experiments.load(args.experiment)
        seeds = [int(s) for s in _split(args.seeds)] if args.seeds else None
        cells = experiments.cells(experiment, args.overrides, seeds, _split(args.rows), _split(args.tasks))
        if not cells:
            raise experiments.ExperimentError("the filters select no cell (check --rows/--tasks spelling)")
        composed = compose_cells(experiment, cells)
    except (experiments.ExperimentError, ValueError) as err:
        print(f"[bca-reproduce] {err}", file=sys.stderr)
        return 2
    from bca.preflight import cell_problems

    problems = cell_problems(composed)  # every cell fully, before the first run (README)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        print(f"[bca-reproduce] invalid cells, nothing ran:\n{listed}", file=sys.stderr)
        return 2
    done = sum(records.finished(path) for _, _, path in composed)
    print(f"[bca-reproduce] {experiment.title}: {len(composed)} runs, {done} already finished")
    if args.dry_run:
        for cell, _, path in composed:
            state = "done" if records.finished(path) else "todo"
            print(f"  [{state}] {cell.row} / {cell.task} / seed {cell.seed}  -> {path}")
        return 0
    return _run_all(composed)


def _run_all(composed) -> int:
    from bca.disk import DiskFull
    from bca.run_lock import RunLocked
    from bca.runner import run
    from bca.validate import ConfigProblems

    failures, elsewhere = [], []
    bar = tqdm(composed, desc="reproduce", unit="run", dynamic_ncols=True, position=0)
    for cell, cfg, path in bar:
        bar.set_postfix_str(f"{cell.row} / {cell.task} / seed {cell.seed}")
        if records.finished(path):
            continue
        try:
            record = run(cfg)
        except DiskFull as err:  # every later cell would hit it too
            print(f"[bca-reproduce] {err}", file=sys.stderr)
            return 4
        except KeyboardInterrupt:
            return 130  # the runner has said where the record is and how to resume
        except ConfigProblems as err:
            failures.append(f"{cell.row} / {cell.task}: {err}")
            continue
        except RunLocked as err:  # another bca-reproduce has this cell: take the next one
            elsewhere.append(f"{cell.row} / {cell.task} / seed {cell.seed}: {err}")
            continue
        except Exception as err:  # recorded as failed by the runner; the table goes on
            traceback.print_exc()
            failures.append(f"{cell.row} / {cell.task} / seed {cell.seed}: {type(err).__name__}: {err}")
            continue
        if record["status"] != "ok":
            failures.append(f"{cell.row} / {cell.task} / seed {cell.seed}: status {record['status']}")
    bar.close()
    if elsewhere:
        print(
            f"[bca-reproduce] {len(elsewhere)} run(s) left to the other process(es) training them:\n  "
            + "\n  ".join(elsewhere)
        )
    if failures:
        print(f"[bca-reproduce] {len(failures)} run(s) did not finish ok:\n  " + "\n  ".join(failures))
    print("[bca-reproduce] records in " + ", ".join(sorted({str(p.parent) for _, _, p in composed})))
    return 1 if failures else 0
