"""Measured FLOPs: torch's ``FlopCounterMode`` taught about FFTs and complex arithmetic.

The stock counter (``torch.utils.flop_counter``) knows matmuls, convolutions and attention, but it gives
0 for every FFT op and counts a complex matmul like a real one (4x too low). Fourier-domain adapters are
nothing but FFTs and complex products, so without this extension they would look free. The formulas here
use the convention stated in ``bca.count.flops`` (and its ``fft_flops``), so measured and analytic numbers can
be compared exactly; see ``tests/test_flops.py``.

Works on real and on meta tensors (the formulas only read shapes and dtypes), so a full-size model built
on the meta device can be counted without memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from bca.adapters.kernels.exec_path import exec_path
from bca.count.flops import COMPLEX_MUL, REAL_MAC, fft_flops

aten = torch.ops.aten


def _raw(fn):
    """Mark a formula as taking the real arguments (tensors, for their dtype) instead of shapes."""
    fn._get_raw = True
    return fn


def _complex(*tensors) -> bool:
    return any(isinstance(t, torch.Tensor) and t.is_complex() for t in tensors)


def _mac_factor(*tensors) -> int:
    """FLOPs per multiply-accumulate: 2 real, 8 complex (torch's formulas assume real)."""
    return 4 * REAL_MAC if _complex(*tensors) else REAL_MAC


@_raw
def _mm(a, b, *args, out_val=None, **kwargs) -> int:
    return _mac_factor(a, b) * a.shape[0] * a.shape[1] * b.shape[1]


@_raw
def _addmm(bias, a, b, *args, out_val=None, **kwargs) -> int:
    return _mm(a, b)  # the bias add is not counted (torch's convention)


@_raw
def _bmm(a, b, *args, out_val=None, **kwargs) -> int:
    return _mac_factor(a, b) * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


@_raw
def _baddbmm(bias, a, b, *args, out_val=None, **kwargs) -> int:
    return _bmm(a, b)


def _fft_total(shape, dim, kind: str) -> float:
    """Cost of batched FFTs over ``dim`` of a tensor of ``shape``: (number of transforms) x per-transform."""
    dims = [d % len(shape) for d in dim]
    n = math.prod(shape[d] for d in dims)
    batch = math.prod(shape) // n if n else 0
    return batch * fft_flops(n, kind)


@_raw
def _fft_r2c(x, dim, normalization, onesided, *args, out_val=None, **kwargs) -> float:
    # Real input: half a complex FFT whether or not the redundant half is returned (onesided=False is a
    # conjugate-symmetric fill, no extra arithmetic).
    return _fft_total(x.shape, dim, "r2c")


@_raw
def _fft_c2r(x, dim, normalization, last_dim_size, *args, out_val=None, **kwargs) -> float:
    return _fft_total(out_val.shape, dim, "c2r")  # N counts the real output points


@_raw
def _fft_c2c(x, dim, normalization, forward, *args, out_val=None, **kwargs) -> float:
    return _fft_total(x.shape, dim, "c2c")


@_raw
def _mul(a, b, *args, out_val=None, **kwargs) -> int:
    """Complex x complex elementwise product: 6 FLOPs per element. Anything with a real factor is a scaling
    (not counted, as for real tensors)."""
    both = all(isinstance(t, torch.Tensor) and t.is_complex() for t in (a, b))
    return COMPLEX_MUL * out_val.numel() if both else 0


FORMULAS: dict[object, Callable] = {
    aten.mm: _mm,
    aten.addmm: _addmm,
    aten.addmm_: _addmm,  # in place: a fused base Linear accumulating into another path's output buffer
    aten.bmm: _bmm,
    aten.baddbmm: _baddbmm,
    aten.baddbmm_: _baddbmm,
    aten._fft_r2c: _fft_r2c,
    aten._fft_c2r: _fft_c2r,
    aten._fft_c2c: _fft_c2c,
    aten.mul: _mul,
    aten.mul_: _mul,  # in-place products (FFT spectra are reused in place to save T x d buffers)
}


class _FFTPathFlopCounter(FlopCounterMode):
    """Counts BCA's FFT path whatever the device and token count: the method's arithmetic as the papers and
    ``bca.count.flops`` state it, not the merged-weight path a fast run may take
    (``bca.adapters.kernels.exec_path``)."""

    def __enter__(self):
        self._forced = exec_path("fft")
        self._forced.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self._forced.__exit__(None, None, None)


def flop_counter() -> FlopCounterMode:
    """A ``FlopCounterMode`` (no printing) with the FFT and complex formulas above."""
    return _FFTPathFlopCounter(display=False, custom_mapping=FORMULAS)


def count_flops(fn: Callable[[], object]) -> float:
    """Total FLOPs of running ``fn()`` (forward, backward, or both: whatever it does)."""
    with flop_counter() as counter:
        fn()
    return counter.get_total_flops()


def flops_by_op(fn: Callable[[], object]) -> dict[str, float]:
    """FLOPs of ``fn()`` per aten op (to see where a mismatch comes from)."""
    with flop_counter() as counter:
        fn()
    return {str(op): v for op, v in counter.get_flop_counts().get("Global", {}).items()}


def measure_module(module: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Forward and backward FLOPs of ``module(x)``; the backward seeds dL/dy = 1 (its cost is not counted).

    ``x.requires_grad`` decides whether the gradient w.r.t. the input is computed, exactly as in a network.
    """
    with flop_counter() as counter:
        y = module(x)
    fwd = counter.get_total_flops()
    grad = torch.ones_like(y)
    with flop_counter() as counter:
        y.backward(grad)
    return {"fwd": fwd, "bwd": counter.get_total_flops(), "train": fwd + counter.get_total_flops()}
