"""Plots from records (PNG): score vs trainable parameters with the Pareto front, score and step time vs block
size, and training curves. Written by ``bca-table <dir> --plots <out dir>`` next to the table they illustrate.

Everything is read from records (never from wandb), so a plot can always be rebuilt from committed results.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from bca.tables import best_metric, row_label


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers/CI
    import matplotlib.pyplot as plt

    return plt


def _no_labels():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _save(plt, fig, path: Path, dpi: int = 120) -> Path:
    """Lay out, write and close (an open figure per plot adds up over a big table's tasks)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by another with fewer (or equal) parameters and a higher (or equal) score."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def score_vs_params(found: list[dict], out: Path) -> list[Path]:
    """One panel per task: each row a point (median over seeds) at its adapter parameter count."""
    by_task: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for rec in found:
        value = best_metric(rec)
        if value is not None:
            by_task[rec["config"]["task"]["name"]][row_label(rec)].append((rec["params"]["adapter"], 100 * value))
    if not by_task:
        return []
    plt = _pyplot()
    tasks = sorted(by_task)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        points = []
        for label in sorted(by_task[task]):
            runs = by_task[task][label]
            x, y = statistics.median(p for p, _ in runs), statistics.median(s for _, s in runs)
            ax.scatter([x], [y], label=label, zorder=3)
            points.append((x, y))
        front = pareto_front(points)
        ax.plot(*zip(*front, strict=True), "k--", lw=1, label="Pareto front", zorder=2)
        ax.set(xscale="log", xlabel="trainable adapter parameters", ylabel="dev score (best epoch)", title=task)
        ax.xaxis.set_minor_formatter(_no_labels())  # minor-tick labels (2x10^4, 3x10^4, ...) overlap in narrow panels
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    return [_save(plt, fig, out / "score_vs_params.png")]


def block_size_curves(found: list[dict], out: Path) -> list[Path]:
    """Score and time per step vs block size, per (method, task), for records that have a block size."""
    series: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for rec in found:
        size, value = rec["config"]["method"].get("block_size"), best_metric(rec)
        if size and value is not None:
            key = (rec["config"]["method"]["name"], rec["config"]["task"]["name"])
            series[key][int(size)].append((100 * value, rec["time"]["step_s"]))
    series = {k: v for k, v in series.items() if len(v) > 1}
    if not series:
        return []
    plt = _pyplot()
    fig, (score_ax, time_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    for (method, task), by_size in sorted(series.items()):
        sizes = sorted(by_size)
        score_ax.plot(
            sizes, [statistics.median(s for s, _ in by_size[p]) for p in sizes], "o-", label=f"{method}/{task}"
        )
        time_ax.plot(
            sizes, [statistics.median(t for _, t in by_size[p]) for p in sizes], "o-", label=f"{method}/{task}"
        )
    score_ax.set(xscale="log", xlabel="block size p", ylabel="dev score (best epoch)")
    time_ax.set(xscale="log", xlabel="block size p", ylabel="seconds per training step")
    for ax in (score_ax, time_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return [_save(plt, fig, out / "block_size.png")]


def training_curves(found: list[dict], out: Path) -> list[Path]:
    """Per task: train loss and dev metric per epoch, one line per run."""
    by_task = defaultdict(list)
    for rec in found:
        if (rec.get("metrics") or {}).get("epochs"):
            by_task[rec["config"]["task"]["name"]].append(rec)
    paths = []
    plt = _pyplot() if by_task else None
    for task, recs in sorted(by_task.items()):
        fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
        for rec in sorted(recs, key=lambda r: (row_label(r), r["config"]["trainer"]["seed"])):
            epochs = rec["metrics"]["epochs"]
            metric = rec["metrics"]["metric_for_best"]
            label = f"{row_label(rec)} s{rec['config']['trainer']['seed']}"
            loss_ax.plot([e["epoch"] for e in epochs], [e["train_loss"] for e in epochs], "o-", label=label)
            metric_ax.plot([e["epoch"] for e in epochs], [100 * e["eval"][metric] for e in epochs], "o-", label=label)
        loss_ax.set(xlabel="epoch", ylabel="mean train loss", title=task)
        metric_ax.set(xlabel="epoch", ylabel=f"dev {metric}", title=task)
        metric_ax.legend(fontsize=6)
        paths.append(_save(plt, fig, out / f"curves_{task}.png", dpi=110))
    return paths


def write_all(found: list[dict], out: Path) -> list[Path]:
    from bca.plot_curves import loss_curves

    out.mkdir(parents=True, exist_ok=True)
    return (
        score_vs_params(found, out) + block_size_curves(found, out) + training_curves(found, out)
        + loss_curves(found, out)
    )  # fmt: skip
