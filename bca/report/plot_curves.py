"""Teacher-forced loss curves from records' ``metrics.curve``: held-out response loss and forgetting vs step.

What picks a step budget ("has LoRA's held-out loss flattened?") and shows how far each method moves off the
base model. One figure per task, one line per run (row label and seed); runs without a curve are left out.
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
        fig, axes = plt.subplots(1, len(PANELS), figsize=(9, 3.4))
        for run in by.sort_values(["label", "seed"], kind="stable").itertuples():
            label = f"{run.label} s{run.seed}"
            for ax, (key, _) in zip(axes, PANELS, strict=True):
                points = [p for p in run.record["metrics"]["curve"] if key in p]
                if points:
                    ax.plot([p["step"] for p in points], [p[key] for p in points], "o-", ms=3, label=label)
        for ax, (_, ylabel) in zip(axes, PANELS, strict=True):
            ax.set(xlabel="optimiser step", ylabel=ylabel, title=task)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=6)
        paths.append(save(plt, fig, out / f"loss_curves_{task}.png", dpi=110))
    return paths
