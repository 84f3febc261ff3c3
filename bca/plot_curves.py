"""Teacher-forced loss curves from records' ``metrics.curve``: held-out response loss and forgetting vs step.

What picks a step budget ("has LoRA's held-out loss flattened?") and shows how far each method moves off the
base model. One figure per task, one line per run (row label and seed); runs without a curve are left out.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

PANELS = (("heldout_loss", "held-out response loss (nats/token)"), ("forgetting", "forgetting (Δ general-text loss)"))


def loss_curves(found: list[dict], out: Path) -> list[Path]:
    from bca.plots import _pyplot, _save
    from bca.tables import row_label

    by_task = defaultdict(list)
    for rec in found:
        if (rec.get("metrics") or {}).get("curve"):
            by_task[rec["config"]["task"]["name"]].append(rec)
    paths = []
    plt = _pyplot() if by_task else None
    for task, recs in sorted(by_task.items()):
        fig, axes = plt.subplots(1, len(PANELS), figsize=(9, 3.4))
        for rec in sorted(recs, key=lambda r: (row_label(r), r["config"]["trainer"]["seed"])):
            label = f"{row_label(rec)} s{rec['config']['trainer']['seed']}"
            for ax, (key, _) in zip(axes, PANELS, strict=True):
                points = [p for p in rec["metrics"]["curve"] if key in p]
                if points:
                    ax.plot([p["step"] for p in points], [p[key] for p in points], "o-", ms=3, label=label)
        for ax, (_, ylabel) in zip(axes, PANELS, strict=True):
            ax.set(xlabel="optimiser step", ylabel=ylabel, title=task)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=6)
        paths.append(_save(plt, fig, out / f"loss_curves_{task}.png", dpi=110))
    return paths
