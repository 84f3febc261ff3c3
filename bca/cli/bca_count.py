"""``bca-count model=<m> method=<x> [method.*=...]``: trainable parameters and FLOPs of one config, no weights.

The same overrides as ``bca-run`` are checked the same way first (composition, values, block sizes per layer
shape); the counting itself is ``bca.count.counting``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bca.count.counting import COLUMNS, append_csv, count, fmt
from bca.models import build_meta_model
from bca.report.markdown import markdown_table

DESCRIPTION = "Trainable parameters and FLOPs of a model x method, counted on the meta device: no weights, no hub."


def table_text(row: dict, columns) -> str:
    return markdown_table(list(columns), [[fmt(row.get(c, "")) for c in columns]])


def count_problems(overrides: list[str]) -> list[str]:
    """What ``bca-run`` would reject in these overrides that counting needs too: composition (one line each,
    not Hydra's traceback), values, and block sizes grouped by layer shape (not one line per layer)."""
    from bca.config.hydra_app import compose
    from bca.config.hydra_overrides import command_line_jobs
    from bca.config.validate import method_problems
    from bca.config.value_checks import value_problems

    problems, _, _ = command_line_jobs(overrides)
    if problems:
        return problems
    cfg = compose(overrides)
    problems = value_problems(cfg)
    if problems:
        return problems
    num_labels = None if cfg.model.causal else (cfg.task.num_labels or 2)
    return method_problems(build_meta_model(cfg.model, num_labels=num_labels, causal=cfg.model.causal), cfg.method)


def main(argv: list[str]) -> int:
    """bca-count model=<m> method=<x> [method.*=...] [trainer.batch_size=B trainer.max_length=L] [--csv F]"""
    parser = argparse.ArgumentParser(
        prog="bca-count",
        description=DESCRIPTION,
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for bca-run")
    parser.add_argument("--csv", help="CSV to append to (default: <results_dir>/counts.csv)")
    parser.add_argument("--no-csv", action="store_true", help="print only")
    args = parser.parse_intermixed_args(argv)  # options may sit between overrides
    problems = count_problems(args.overrides)
    if problems:
        print("[bca-count] invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        return 2
    from bca.config.hydra_app import compose

    cfg = compose(args.overrides)
    try:
        row = count(cfg)
    except ValueError as err:  # a block size that does not divide, no matching target, ...
        print(f"[bca-count] {err}", file=sys.stderr)
        return 2
    print(table_text(row, COLUMNS[:8]))
    print()
    print(table_text(row, COLUMNS[8:]))
    if "adapter_flops" in row:
        print(f"\nadapter FLOPs {row['adapter_flops']}")
    print(
        f"\nFLOPs for one training step of {row['batch_size']} x {row['seq_len']} = {row['tokens']:,} tokens "
        "(forward + backward, no optimiser update); whole network measured, adapters analytic (bca/count/flops.py)."
    )
    if not args.no_csv:
        path = Path(args.csv or Path(cfg.results_dir) / "counts.csv")
        append_csv(path, [row])
        print(f"[bca-count] appended to {path}")
    return 0
