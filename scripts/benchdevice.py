"""Device-aware timing and peak memory for the benchmark scripts (CPU: benchlib; CUDA: events, allocator).

CUDA: every call is timed with a pair of CUDA events after the device is idle (the launch queue would
otherwise hide the time), candidates interleaved in rounds as on CPU; peak memory is the allocator's peak
above what was allocated before the call (``torch.cuda.max_memory_allocated``), the same "tensors made by
one call" figure the CPU profiler timeline gives.
"""

from __future__ import annotations

import gc
import platform
import statistics
from collections.abc import Callable

import torch
from benchlib import peak_memory_bytes, time_rounds, wall_seconds


def pick_device(requested: str | None = None) -> str:
    """``requested``, else "cuda" when torch sees one, else "cpu"."""
    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cuda_event_seconds(fn: Callable[[], None]) -> float:
    """One call's device time: a pair of CUDA events around it, after the device is idle."""
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


def time_rounds_on(device: str, fns: dict[str, Callable[[], None]], rounds: int, warmup: int = 2):
    """Seconds per call of every function in ``rounds`` interleaved rounds (``benchlib.time_rounds``), timed
    by CUDA events on a CUDA device."""
    return time_rounds(fns, rounds, warmup, timer=cuda_event_seconds if device.startswith("cuda") else wall_seconds)


def peak_memory_on(device: str, fn: Callable[[], None]) -> int | None:
    """Peak bytes of tensors allocated by one call of ``fn`` and alive at the same time (None: unknown)."""
    if not device.startswith("cuda"):
        return peak_memory_bytes(fn)
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of a list of figures (rounds or repeats)."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def ratio_spread(times: dict[str, list[float]], name: str, reference: str) -> dict[str, float]:
    """min / median / max over rounds of time[name] / time[reference] measured in the same round."""
    return spread([a / b for a, b in zip(times[name], times[reference], strict=True)])


def device_description(device: str) -> str:
    """One line: the device, torch (and CUDA) versions, threads."""
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        return (
            f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
        )
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads"


def load_average() -> str:
    """The machine's 1/5/15-minute load average (how busy a shared CPU was), or "n/a"."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"
