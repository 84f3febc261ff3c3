"""Print each record's dev metric after every epoch as a markdown table (the numbers behind a budget choice).

    .venv/bin/python scripts/epoch_curves.py results/minilm_glue_budget

One line per record (row, task, seed), one column per evaluation: ``step: metric`` (x100), the best in bold.
Records with a teacher-forced loss curve (instruction tasks, ``metrics.curve``) get a second table: each
figure at each measured step, as recorded (nats per token), the lowest held-out loss in bold: what a decoder's
step budget is read from. Read from the records alone, so ``scripts/results_tables.sh`` rebuilds it
byte-identically.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bca.report import tables


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: epoch_curves.py <results dir>", file=sys.stderr)
        return 2
    found, _ = tables.find_records(Path(args[0]))  # its records/ folder: not the checkpoints' manifests
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
    curves = curve_lines(found)
    if curves:
        print()
        print("\n".join(curves))
    return 0


CURVE_FIGURES = ("heldout_loss", "forgetting")


def curve_lines(found: list[dict]) -> list[str]:
    """The loss-curve table of the records that have one (empty list if none)."""
    lines = []
    for rec in sorted(
        found, key=lambda r: (tables.row_label(r), r["config"]["task"]["name"], r["config"]["trainer"]["seed"])
    ):
        curve = (rec.get("metrics") or {}).get("curve") or []
        cfg = rec["config"]
        for figure in CURVE_FIGURES:
            points = [p for p in curve if figure in p]
            if not points:
                continue
            lowest = min(p[figure] for p in points) if figure == "heldout_loss" else None
            cells = [
                f"**{p['step']}: {p[figure]:.4f}**" if p[figure] == lowest else f"{p['step']}: {p[figure]:.4f}"
                for p in points
            ]
            head = f"| {tables.row_label(rec)} | {cfg['task']['name']} | {cfg['trainer']['seed']} | {figure} | "
            lines.append(head + " · ".join(cells) + " |")
    if not lines:
        return []
    return ["| row | task | seed | figure | teacher-forced loss at each measured step (step: nats/token; lowest "
            "held-out loss in bold) |", "|---|---|---|---|---|", *lines]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
