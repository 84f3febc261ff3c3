"""Print each record's dev metric after every epoch as a markdown table (the numbers behind a budget choice).

    .venv/bin/python scripts/epoch_curves.py results/minilm_glue_budget

One line per record (row, task, seed), one column per evaluation: ``step: metric`` (x100), the best in bold.
Read from the records alone, so ``scripts/results_tables.sh`` rebuilds it byte-identically.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bca.report import tables
from bca.run import records


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: epoch_curves.py <results dir>", file=sys.stderr)
        return 2
    found = [rec for _, rec in records.iter_records(Path(args[0]))]
    lines = ["| row | task | seed | metric | dev metric after each epoch (step: value x100; best in bold) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for rec in sorted(
        found, key=lambda r: (tables.row_label(r), r["config"]["task"]["name"], r["config"]["trainer"]["seed"])
    ):
        metrics = rec.get("metrics") or {}
        name, epochs = metrics.get("metric_for_best"), metrics.get("epochs") or []
        best = (metrics.get("best") or {}).get("epoch")
        cells = [
            (
                f"**{e['step']}: {100 * e['eval'][name]:.2f}**"
                if e["epoch"] == best
                else f"{e['step']}: {100 * e['eval'][name]:.2f}"
            )
            for e in epochs
        ]
        cfg = rec["config"]
        head = f"| {tables.row_label(rec)} | {cfg['task']['name']} | {cfg['trainer']['seed']} | {name} | "
        lines.append(head + " · ".join(cells) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
