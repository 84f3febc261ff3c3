"""``bca-table <records dir> [--experiment E] [--format md|csv|tex]``: run records -> a paper-style table.

Reads records only (``bca.report``); ``--plots`` draws from the same records frame, ``--costs`` adds the
cost table, ``--findings`` the comparisons as sentences with their statistics, and ``--tuning`` every grid
point of a tuned experiment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bca.paper import experiments
from bca.report.render import FORMATS, render
from bca.report.tables import build, find_records


def main(argv=None) -> int:
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
    parser.add_argument(
        "--findings", action="store_true", help="also the comparisons as sentences with their statistics (md)"
    )
    parser.add_argument(
        "--decoder", action="store_true",
        help="the decoder table: held-out loss, accuracy with its Wilson interval, forgetting, costs (md)",
    )  # fmt: skip
    parser.add_argument("--generation", help="with --decoder: scripts/bench_generate.py's JSON for generation speed")
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
        # built once: its cells are the table, its records (no selection runs) are what the plots draw
        table = build(found, exp, damaged, args.reference, args.metric) if not args.tuning or args.plots else None
        if args.tuning:
            from bca.report.render_tuning import tuning_table

            text = tuning_table(found, exp, args.format)
        elif args.decoder:
            from bca.report.decoder_table import decoder_table

            text = decoder_table(table, args.generation)
        else:
            text = render(table, args.format)
            if args.costs:
                from bca.report.cost_table import render_costs

                text += "\n" + render_costs(table, table.records, args.format)
            if args.findings:
                from bca.report.findings import findings

                text += "\n" + findings(table, exp.floors if exp else None)
    except ValueError as err:
        print(f"[bca-table] {err}", file=sys.stderr)
        return 2
    if args.plots:
        from bca.report.plots import write_all

        for path in write_all(table.records, Path(args.plots)):
            print(f"[bca-table] plot: {path}", file=sys.stderr)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
