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
    """Score vs block size, score vs adapter parameters and time per step vs block size, one line per
    (method, task): both circulant families on one figure. Points are seed means with their std as bars."""
    series: dict[tuple[str, str], dict[int, list[tuple[float, float, int]]]] = defaultdict(lambda: defaultdict(list))
    for rec in found:
        size, value = rec["config"]["method"].get("block_size"), best_metric(rec)
        if size and value is not None:
            key = (rec["config"]["method"]["name"], rec["config"]["task"]["name"])
            step_s = (rec.get("time") or {}).get("step_s")  # failed runs have no time
            series[key][int(size)].append((100 * value, step_s, rec["params"]["adapter"]))
    series = {k: v for k, v in series.items() if len(v) > 1}
    if not series:
        return []
    plt = _pyplot()
    fig, (score_ax, params_ax, time_ax) = plt.subplots(1, 3, figsize=(13, 3.6))
    for (method, task), by_size in sorted(series.items()):
        sizes = sorted(by_size)
        scores = [[s for s, _, _ in by_size[p]] for p in sizes]
        means = [statistics.fmean(v) for v in scores]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in scores]
        params = [statistics.median(n for _, _, n in by_size[p]) for p in sizes]
        label = f"{method}/{task}"
        score_ax.errorbar(sizes, means, yerr=stds, fmt="o-", capsize=3, label=label)
        params_ax.errorbar(params, means, yerr=stds, fmt="o-", capsize=3, label=label)
        timed = [p for p in sizes if any(t is not None for _, t, _ in by_size[p])]
        time_ax.plot(timed, [statistics.median(t for _, t, _ in by_size[p] if t is not None) for p in timed], "o-",
                     label=label)  # fmt: skip
    score_ax.set(xscale="log", xlabel="block size p", ylabel="dev score (best epoch; mean ± std)")
    params_ax.set(xscale="log", xlabel="trainable adapter parameters", ylabel="dev score (best epoch; mean ± std)")
    time_ax.set(xscale="log", xlabel="block size p", ylabel="seconds per training step")
    for ax in (score_ax, params_ax, time_ax):
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
            trained = [e for e in epochs if e.get("train_loss") is not None]
            loss_ax.plot([e["step"] for e in trained], [e["train_loss"] for e in trained], "o-", label=label)
            metric_ax.plot([e["step"] for e in epochs], [100 * e["eval"][metric] for e in epochs], "o-", label=label)
        # x = optimiser steps: a budget is a step count, and epochs differ in length between runs
        loss_ax.set(xlabel="optimiser step", ylabel="mean train loss of the epoch", title=task)
        metric_ax.set(xlabel="optimiser step", ylabel=f"dev {metric}", title=task)
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
