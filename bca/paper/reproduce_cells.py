"""Composing and running the cells of an experiment, shared by ``bca-reproduce`` and its ``--tune`` mode."""

from __future__ import annotations

import traceback

from tqdm.auto import tqdm

from bca.paper import experiments
from bca.run import records


def compose_cells(experiment, cells):
    """Compose every cell (validating its overrides); raise one error listing every cell that fails."""
    from omegaconf import OmegaConf

    from bca.config.hydra_app import composer

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


def cell_name(cell) -> str:
    kind = " (grid)" if cell.tuning else ""
    return f"{cell.row} / {cell.task} / seed {cell.seed}{kind}"


def run_cell(cell, cfg, path) -> tuple[str, str | None]:
    """Run one composed cell: ("done" | "ran" | "locked" | "failed", what to report)."""
    from bca.config.validate import ConfigProblems
    from bca.run.disk import DiskFull
    from bca.run.lock import RunLocked
    from bca.run.runner import run

    if records.finished(path):
        return "done", None
    try:
        record = run(cfg)
    except ConfigProblems as err:
        return "failed", f"{cell_name(cell)}: {err}"
    except RunLocked as err:  # another bca-reproduce has this cell: take the next one
        return "locked", f"{cell_name(cell)}: {err}"
    except DiskFull:
        raise  # every later cell would hit it too: the command stops (exit 4)
    except Exception as err:  # recorded as failed by the runner; the table goes on
        traceback.print_exc()
        return "failed", f"{cell_name(cell)}: {type(err).__name__}: {err}"
    if record["status"] != "ok":
        return "failed", f"{cell_name(cell)}: status {record['status']}"
    return "ran", None


def report(failures, elsewhere, composed) -> int:
    if elsewhere:
        print(
            f"[bca-reproduce] {len(elsewhere)} run(s) left to the other process(es) training them:\n  "
            + "\n  ".join(elsewhere)
        )
    if failures:
        print(f"[bca-reproduce] {len(failures)} run(s) did not finish ok:\n  " + "\n  ".join(failures))
    print("[bca-reproduce] records in " + ", ".join(sorted({str(p.parent) for _, _, p in composed})))
    return 1 if failures else 0


def run_all(composed) -> int:
    """Run every composed cell in turn; the exit status is ``report``'s (failures and cells left to others)."""
    failures, elsewhere = [], []
    bar = tqdm(composed, desc="reproduce", unit="run", dynamic_ncols=True, position=0)
    for cell, cfg, path in bar:
        bar.set_postfix_str(f"{cell.row} / {cell.task} / seed {cell.seed}")
        outcome, message = run_cell(cell, cfg, path)
        {"failed": failures, "locked": elsewhere}.get(outcome, []).append(message)
    bar.close()
    return report(failures, elsewhere, composed)
