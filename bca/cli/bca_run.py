"""``bca-run``: the Hydra app (one config -> one record), the whole command line checked before it starts."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from bca.cli.exit_codes import EXIT_DISK_FULL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_LOCKED, EXIT_RUN_FAILED
from bca.config.hydra_app import CONFIG_DIR, register_schemas
from bca.run.process import is_main_process

register_schemas()

_not_ok: list[str] = []  # runs of this process's sweep jobs that diverged or failed


@hydra.main(config_path=CONFIG_DIR, config_name="run", version_base="1.3")
def _run_app(cfg: DictConfig) -> float | None:
    from bca.config.validate import ConfigProblems
    from bca.run.disk import FULL_ERRNOS, DiskFull
    from bca.run.lock import RunLocked
    from bca.run.runner import run as run_one

    try:
        record = run_one(cfg)
    except (ConfigProblems, RunLocked) as err:
        if _in_sweep():
            raise  # Hydra records the failed job and goes on with the next one
        print(f"[bca] {err}", file=sys.stderr)
        sys.exit(EXIT_INVALID if isinstance(err, ConfigProblems) else EXIT_LOCKED)
    except OSError as err:  # a full disk (every later job would hit it too: stop, sweep or not)
        if not isinstance(err, DiskFull) and err.errno not in FULL_ERRNOS:
            raise
        full = err if isinstance(err, DiskFull) else DiskFull(err.filename or cfg.results_dir)  # e.g. the lock file
        print(f"[bca] {full}", file=sys.stderr)
        sys.exit(EXIT_DISK_FULL)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)  # the runner has said where the record is and how to resume
    if record["status"] != "ok":
        message = f"[bca] run {record['run_id']} {record['status']}: {(record.get('error') or {}).get('message')}"
        print(message, file=sys.stderr)
        if not _in_sweep():
            sys.exit(EXIT_RUN_FAILED)
        _not_ok.append(record["run_id"])  # the sweep goes on; the command exits 1 at its end
    best = (record.get("metrics") or {}).get("best")
    if best and is_main_process():  # under accelerate launch, say it once
        print(f"[bca] best dev epoch {best['epoch']}: " + ", ".join(f"{k}={v:.4f}" for k, v in best["eval"].items()))
    # The return value is what Hydra sweepers optimise over.
    return best["eval"][record["metrics"]["metric_for_best"]] if best else None


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def main() -> None:
    """bca-run model=<m> method=<x> task=<t> [overrides]

    The whole command line (every value of a sweep) is checked first: all problems are reported together and
    the exit status is 2, before any model is loaded or any record written.
    """
    from bca.config.hydra_args import command_line_problems

    _not_ok.clear()
    problems = command_line_problems(sys.argv[1:])
    if problems:
        if is_main_process():  # under accelerate launch, say it once
            print("[bca] invalid run configuration:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        sys.exit(EXIT_INVALID)
    from bca.config.hydra_app import searchpath_overrides

    sys.argv += searchpath_overrides()  # $BCA_CONFIG_PATH: the same extra config folders as the checks above
    _run_app()
    if _not_ok:  # jobs run in this process (Hydra's basic launcher) that diverged or failed
        print(f"[bca] {len(_not_ok)} run(s) of the sweep did not finish ok: {', '.join(_not_ok)}", file=sys.stderr)
        sys.exit(EXIT_RUN_FAILED)
