"""Which execution path a BCA layer runs: the FFT path (``bca.adapters.kernels.circulant``) or the merged-weight path
(``bca.adapters.kernels.circulant_merged``), chosen per call from the shape, the token count, the device and the dtype.

Both compute x W^T + b + BC(kernel) x with the same gradients (to fp32 rounding, tests/test_exec_path.py).
The merged path pays O(d_out * d_in) per call to build W + Delta W and saves two activation FFTs and the
mixing, so it wins when the tokens are many against the layer's width. The rule: merged iff

    tokens * (d_in + d_out) >= KAPPA[device][blocks] * d_in * d_out

(for a square d x d layer: tokens >= KAPPA * d / 2), with ``blocks`` "one" for p = d_in = d_out and "many"
otherwise. The CPU constants are measured by ``scripts/bench_paths.py`` (the crossover of the two paths'
forward + backward time; results/bench_paths.md); the CUDA ones are a memory-traffic estimate until
``make gpu-check`` measures them (it reports where the rule picks the slower path). The meta device (FLOP
counting) always takes the FFT path: counted FLOPs are those of the method as the papers state it.

``BCA_EXEC_PATH=fft|merged|auto`` (environment) or ``exec_path("fft")`` (a context) forces a path; the FFT
path reproduces runs made before the merged path existed bit for bit.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.nn.functional as F
from torch import nn

from bca.adapters.kernels.circulant import block_circulant_matmul
from bca.adapters.kernels.circulant import linear_block_circulant as linear_block_circulant_fft
from bca.adapters.kernels.circulant_merged import linear_block_circulant_merged

__all__ = ["PATHS", "choose_path", "exec_path", "foldable", "linear_block_circulant"]

PATHS = ("auto", "fft", "merged")
ENV = "BCA_EXEC_PATH"
KAPPA = {  # device -> one block / several blocks -> crossover constant (see the module docstring)
    "cpu": {"one": 2.0, "many": 1.0},
    "cuda": {"one": 0.5, "many": 0.5},
}
_forced: str | None = None


@contextlib.contextmanager
def exec_path(path: str | None):
    """Force ``path`` (one of PATHS; None: the environment's or auto) for every BCA call inside the block."""
    global _forced
    _check_path(path, "exec_path")
    previous, _forced = _forced, path
    try:
        yield
    finally:
        _forced = previous


def _check_path(path: str | None, where: str) -> None:
    if path is not None and path not in PATHS:
        raise ValueError(f"{where}={path!r} is not valid; choose one of {list(PATHS)}")


def requested_path() -> str:
    """The forced path: ``exec_path`` context first, then $BCA_EXEC_PATH, else "auto"."""
    if _forced is not None:
        return _forced
    path = os.environ.get(ENV, "auto") or "auto"
    _check_path(path, ENV)
    return path


def choose_path(d_out: int, d_in: int, p: int, tokens: int, device_type: str, dtype: torch.dtype) -> str:
    """ "fft" or "merged" for one call of a (d_out x d_in) BCA layer with p x p blocks on ``tokens`` rows."""
    if device_type == "meta" or dtype == torch.float64:  # FLOP counting; fp64 is for exact tests
        return "fft"
    kappa = KAPPA.get(device_type, KAPPA["cuda"])["one" if p == d_in == d_out else "many"]
    return "merged" if tokens * (d_in + d_out) >= kappa * d_in * d_out else "fft"


def foldable(base: nn.Module, x: torch.Tensor) -> bool:
    """True if ``base`` is a plain Linear whose GEMM a BCA path may run itself (in its own dtype or autocast's).

    Quantised or hooked layers, and inputs of another dtype outside autocast, call ``base(x)`` unchanged.
    """
    if type(base) is not nn.Linear or base._forward_hooks or base._forward_pre_hooks:
        return False
    weight = base.weight
    autocast = x.device.type != "meta" and torch.is_autocast_enabled(x.device.type)
    return x.is_floating_point() and weight.is_floating_point() and (x.dtype == weight.dtype or autocast)


def _fusable_fft(x: torch.Tensor, weight: torch.Tensor) -> bool:
    autocast = x.device.type != "meta" and torch.is_autocast_enabled(x.device.type)
    return x.dtype == weight.dtype and x.dtype in (torch.float32, torch.float64) and not autocast


def linear_block_circulant(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernel: torch.Tensor
) -> torch.Tensor:
    """``F.linear(x, weight, bias) + BC(kernel) x`` by the path ``choose_path`` (or the forced one) picks.

    For a base Linear that ``foldable`` accepts. FFT path: the fused Function for fp32/fp64 outside autocast,
    else the base GEMM as the Linear would run it plus the fp32 FFT product (what ``AdapterLinear`` does).
    """
    path = requested_path()
    if path == "auto":
        m, q, p = kernel.shape
        path = choose_path(m * p, q * p, p, x.numel() // max(1, x.shape[-1]), x.device.type, x.dtype)
    if path == "merged":
        return linear_block_circulant_merged(x, weight, bias, kernel)
    if _fusable_fft(x, weight):
        return linear_block_circulant_fft(x, weight, bias, kernel)
    out = F.linear(x, weight, bias)
    return out.add_(block_circulant_matmul(x, kernel).to(out.dtype))
