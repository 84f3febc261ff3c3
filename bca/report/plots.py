"""Plots from records (PNG): score vs trainable parameters with the Pareto front, score and step time vs block
size, and training curves. Written by ``bca-table <dir> --plots <out dir>`` next to the table they illustrate.

Everything is read from records (never from wandb), so a plot can always be rebuilt from committed results;
every plot groups the one records frame (``bca.report.frame``). Figure helpers: ``bca.report.figures``.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd

from bca.report.figures import no_labels, pyplot, save
from bca.report.frame import runs_frame, values
from bca.report.plot_curves import loss_curves


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by another with fewer (or equal) parameters and a higher (or equal) score."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def param_points(runs: pd.DataFrame) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """One task's rows: label -> (median adapter parameters, median score x100) for the trained rows, and
    label -> median score for the rows that trained 0 steps (zero-shot). Those have only an adapter at init, so
    they are drawn as a level to beat, never as a point (or a Pareto point) at that adapter's parameter count."""
    points, baselines = {}, {}
    for label, row in sorted(runs.groupby("label"), key=lambda g: g[0]):
        y = statistics.median(100 * v for v in values(row))
        if row.untrained.all():
            baselines[label] = y
        else:
            points[label] = (statistics.median(row.adapter_params), y)
    return points, baselines


def score_vs_params(runs: pd.DataFrame, out: Path) -> list[Path]:
    """One panel per task: each row a point (median over seeds) at its adapter parameter count."""
    scored = runs[runs.value.notna()]
    if scored.empty:
        return []
    plt = pyplot()
    tasks = sorted(scored.task.unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        points, baselines = param_points(scored[scored.task == task])
        for label, (x, y) in points.items():
            ax.scatter([x], [y], label=label, zorder=3)
        for label, y in baselines.items():
            ax.axhline(y, color="grey", ls=":", lw=1.2, label=f"{label} (no training)", zorder=1)
        if points:
            front = pareto_front(list(points.values()))
            ax.plot(*zip(*front, strict=True), "k--", lw=1, label="Pareto front", zorder=2)
        ax.set(xscale="log", xlabel="trainable adapter parameters", ylabel="dev score (best epoch)", title=task)
        ax.xaxis.set_minor_formatter(no_labels())  # minor-tick labels (2x10^4, 3x10^4, ...) overlap in narrow panels
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    return [save(plt, fig, out / "score_vs_params.png")]


def block_size_curves(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Score vs block size, score vs adapter parameters and time per step vs block size, one line per
    (method, task): both circulant families on one figure. Points are seed means with their std as bars."""
    sized = runs[runs.value.notna() & runs.block_size.notna()]
    series = {key: by for key, by in sized.groupby(["method", "task"]) if by.block_size.nunique() > 1}
    if not series:
        return []
    plt = pyplot()
    fig, (score_ax, params_ax, time_ax) = plt.subplots(1, 3, figsize=(13, 3.6))
    for (method, task), by in sorted(series.items(), key=lambda kv: kv[0]):
        sizes = sorted(int(p) for p in by.block_size.unique())
        at = {p: by[by.block_size == p] for p in sizes}
        scores = [[100 * v for v in values(at[p])] for p in sizes]
        means = [statistics.fmean(v) for v in scores]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in scores]
        params = [statistics.median(at[p].adapter_params) for p in sizes]
        label = f"{method}/{task}"
        score_ax.errorbar(sizes, means, yerr=stds, fmt="o-", capsize=3, label=label)
        params_ax.errorbar(params, means, yerr=stds, fmt="o-", capsize=3, label=label)
        timed = {p: [t for t in at[p].step_s if t is not None] for p in sizes}
        timed = {p: t for p, t in timed.items() if t}
        time_ax.plot(list(timed), [statistics.median(t) for t in timed.values()], "o-", label=label)
    score_ax.set(xscale="log", xlabel="block size p", ylabel="dev score (best epoch; mean ± std)")
    params_ax.set(xscale="log", xlabel="trainable adapter parameters", ylabel="dev score (best epoch; mean ± std)")
    time_ax.set(xscale="log", xlabel="block size p", ylabel="seconds per training step")
    every_p = sorted({int(p) for by in series.values() for p in by.block_size.unique()})
    for ax in (score_ax, time_ax):  # the block sizes themselves as ticks (log minor labels overlap)
        ax.set_xticks(every_p, [str(p) for p in every_p])
        ax.minorticks_off()
    from matplotlib.ticker import NullFormatter

    params_ax.xaxis.set_minor_formatter(NullFormatter())  # unlabelled minor ticks: their labels collide
    for ax in (score_ax, params_ax, time_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return [save(plt, fig, out / "block_size.png")]


def training_curves(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Per task: train loss and dev metric per epoch, one line per run."""
    with_epochs = runs.loc[[bool((r.get("metrics") or {}).get("epochs")) for r in runs.record]]
    paths = []
    plt = pyplot() if not with_epochs.empty else None
    for task, by in sorted(with_epochs.groupby("task"), key=lambda g: g[0]):
        fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
        for run in by.sort_values(["label", "seed"], kind="stable").itertuples():
            epochs = run.record["metrics"]["epochs"]
            metric = run.record["metrics"]["metric_for_best"]
            label = f"{run.label} s{run.seed}"
            trained = [e for e in epochs if e.get("train_loss") is not None]
            loss_ax.plot([e["step"] for e in trained], [e["train_loss"] for e in trained], "o-", label=label)
            metric_ax.plot([e["step"] for e in epochs], [100 * e["eval"][metric] for e in epochs], "o-", label=label)
        # x = optimiser steps: a budget is a step count, and epochs differ in length between runs
        loss_ax.set(xlabel="optimiser step", ylabel="mean train loss of the epoch", title=task)
        metric_ax.set(xlabel="optimiser step", ylabel=f"dev {metric}", title=task)
        metric_ax.legend(fontsize=6)
        paths.append(save(plt, fig, out / f"curves_{task}.png", dpi=110))
    return paths


def write_all(found: list[dict], out: Path) -> list[Path]:
    """Every plot of these records into ``out``; the paths written (a plot without data is left out)."""
    out.mkdir(parents=True, exist_ok=True)
    runs = runs_frame(found)
    return (
        score_vs_params(runs, out) + block_size_curves(runs, out) + training_curves(runs, out) + loss_curves(runs, out)
    )
