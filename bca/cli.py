"""Console entry points, kept thin: compose/parse, then hand plain configs to the library."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from bca.hydra_app import CONFIG_DIR, register_schemas

register_schemas()


@hydra.main(config_path=CONFIG_DIR, config_name="run", version_base="1.3")
def _run_app(cfg: DictConfig) -> float | None:
    from bca.runner import run as run_one
    from bca.validate import ConfigProblems

    try:
        record = run_one(cfg)
    except ConfigProblems as err:
        print(f"[bca] {err}", file=sys.stderr)
        sys.exit(2)
    best = (record.get("metrics") or {}).get("best")
    if best:
        print(
            f"[bca] best dev epoch {best['epoch']}: "
            + ", ".join(f"{k}={v:.4f}" for k, v in best["eval"].items())
        )
    # The return value is what Hydra sweepers optimise over.
    return best["eval"][record["metrics"]["metric_for_best"]] if best else None


def run() -> None:
    """bca-run model=<m> method=<x> task=<t> [overrides]"""
    _run_app()


def count() -> None:
    """bca-count model=<m> method=<x> [method.*=...]: trainable parameters and FLOPs, no weights needed."""
    from bca.counting import main

    sys.exit(main(sys.argv[1:]))


def table() -> None:
    """bca-table <records dir> [--format md|csv|tex]: records -> a paper-style table."""
    from bca.tables import main

    sys.exit(main(sys.argv[1:]))


def reproduce() -> None:
    """bca-reproduce <experiment> [overrides]: every cell of a paper table, resuming finished runs."""
    from bca.reproduce import main

    sys.exit(main(sys.argv[1:]))
