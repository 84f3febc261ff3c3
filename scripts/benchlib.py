"""Timing and peak-memory helpers shared by the benchmark scripts (not part of the library).

Timing on a shared 2-core CPU is noisy, so candidates are timed in interleaved rounds (every method once
per round, in the same order) and each is reported as the median over rounds of its ratio to the
reference measured in the same round: slow drifts of the machine's load cancel in the ratio.

Peak memory is read from torch's profiler memory timeline (allocator events, exact, CPU included): the
largest total of tensors created and still alive at any point of one call, not counting what existed
before (weights, the input). ``torch.profiler._memory_profiler`` is private API: if a torch release
changes it, memory is reported as None and timing still works.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bca.report.markdown import markdown_table  # noqa: F401 (the one markdown writer, for the bench scripts)
from bca.run.system import git_state


def wall_seconds(fn: Callable[[], None]) -> float:
    """One call's wall time on the host (after a garbage collection, so a collection never lands inside it)."""
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_rounds(
    fns: dict[str, Callable[[], None]], rounds: int, warmup: int = 2, timer: Callable[[Callable], float] = wall_seconds
) -> dict[str, list[float]]:
    """Seconds per call of every function, ``rounds`` interleaved rounds after ``warmup`` untimed ones.

    ``timer(fn)`` times one call (default: host wall time; ``benchdevice`` passes CUDA events)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(timer(fn))
    return times


def median_ratio(times: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over rounds of time[name] / time[reference] within the same round."""
    return statistics.median(a / b for a, b in zip(times[name], times[reference], strict=True))


def peak_memory_bytes(fn: Callable[[], None]) -> int | None:
    """Peak bytes of tensors allocated by one call of ``fn`` (alive at the same time), or None if unavailable."""
    try:
        from torch.profiler import ProfilerActivity, profile
        from torch.profiler._memory_profiler import Action
    except ImportError:
        return None
    gc.collect()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as p:
            fn()
        timeline = p._memory_profile().timeline
    except Exception:  # private API: degrade to "no memory figure", never break the timing
        return None
    live = peak = 0
    for _, action, _, size in timeline:
        if action == Action.CREATE:
            live += size
        elif action == Action.DESTROY:
            live -= size
        peak = max(peak, live)
    return peak


def or_na(value: float | None, spec: str, missing: str = "n/a") -> str:
    """A table cell: ``value`` formatted with ``spec``, or ``missing`` when the figure is unavailable."""
    return missing if value is None else format(value, spec)


def code_version() -> str:
    """The commit a report was measured at, marked when the tree differs from it: the records' own git facts
    (``bca.run.system.git_state``), so a bench figure names its code the way a record does."""
    state = git_state()
    if state["commit"] is None:  # not a git checkout (an sdist, a copied folder)
        return "commit unknown (not a git checkout)"
    return f"commit {state['commit'][:7]}" + (" + uncommitted changes" if state["dirty"] else "")


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that made a report, as written into it (argv None: this process's own arguments)."""
    return " ".join(["python", f"scripts/{script}", *(argv if argv is not None else sys.argv[1:])])


def write_report(out: Path, report: str, data) -> None:
    """Print the markdown report and write it to <out>.md, with the raw figures in <out>.json.

    Each file is written beside its target and moved over it, so a crash or a full disk leaves the previous
    report whole rather than half a new one."""
    print(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((out.with_suffix(".json"), json.dumps(data, indent=1)), (out.with_suffix(".md"), report)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
