"""Composing and running the cells of an experiment, shared by ``bca-reproduce`` and its ``--tune`` mode."""

from __future__ import annotations

import traceback

from bca import experiments, records


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


def cell_name(cell) -> str:
    kind = " (grid)" if cell.tuning else ""
    return f"{cell.row} / {cell.task} / seed {cell.seed}{kind}"


def run_cell(cell, cfg, path) -> tuple[str, str | None]:
    """Run one composed cell: ("done" | "ran" | "locked" | "failed", what to report)."""
    from bca.disk import DiskFull
    from bca.run_lock import RunLocked
    from bca.runner import run
    from bca.validate import ConfigProblems

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
