"""Teacher-forced loss curves from records' ``metrics.curve``: held-out response loss and forgetting vs step.

What picks a step budget ("has LoRA's held-out loss flattened?") and shows how far each method moves off the
base model. One figure per task, one line per run; a row's seeds share its colour and one legend entry (with
eighteen runs, a colour per run repeats and the legend hides the curves), the legend outside the axes. Runs
without a curve are left out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bca.report.figures import pyplot, save

PANELS = (("heldout_loss", "held-out response loss (nats/token)"), ("forgetting", "forgetting (Δ general-text loss)"))


def loss_curves(runs: pd.DataFrame, out: Path) -> list[Path]:
    """One figure per task: each run's teacher-forced losses vs step (``runs``: ``bca.report.frame``)."""
    with_curve = runs.loc[[bool((r.get("metrics") or {}).get("curve")) for r in runs.record]]
    paths = []
    plt = pyplot() if not with_curve.empty else None
    for task, by in sorted(with_curve.groupby("task"), key=lambda g: g[0]):
        fig, axes = plt.subplots(1, len(PANELS), figsize=(11, 3.6))
        palette = plt.get_cmap("tab10" if by.label.nunique() <= 10 else "tab20").colors
        # sorted: the same colours and legend whatever order the records were read in
        for row, (label, seeds) in enumerate(by.groupby("label", sort=True)):
            n = seeds.seed.nunique()
            legend = f"{label} ({n} seeds)" if n > 1 else f"{label} (seed {seeds.seed.iloc[0]})"
            colour = palette[row % len(palette)]
            for i, run in enumerate(seeds.sort_values("seed", kind="stable").itertuples()):
                for ax, (key, _) in zip(axes, PANELS, strict=True):
                    points = [p for p in run.record["metrics"]["curve"] if key in p]
                    if points:
                        ax.plot([p["step"] for p in points], [p[key] for p in points], "o-", ms=3, lw=1.2,
                                color=colour, alpha=0.85, label=legend if i == 0 else None)  # fmt: skip
        for ax, (_, ylabel) in zip(axes, PANELS, strict=True):
            ax.set(xlabel="optimiser step", ylabel=ylabel, title=task)
            ax.grid(alpha=0.3)
        axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
        paths.append(save(plt, fig, out / f"loss_curves_{task}.png", dpi=110))
    return paths
