"""The merged-weight path of BCA: y = x (W + BC)^T + b as ONE dense GEMM; FFTs only for the kernel gradient.

Why a second path: the FFT path (``kernels.circulant``) never builds Delta W, but runs 4 activation-sized FFTs
per training step beside the base GEMMs. Building W + BC costs O(d_out * d_in) per call, independent of
the token count T, while an FFT of the activations costs O(T * d log p): for T large against d the dense
GEMM that the frozen layer runs anyway can carry Delta W for free, and GPUs run dense GEMMs far faster than
FFTs. Per step this path does:

    forward   W_eff = W + BC(kernel)  (from a strided view of the kernel, no p x p index tensor)
              y = x W_eff^T + b                                     the base layer's own GEMM
    backward  dx = dy W_eff   (W_eff built again: keeping it would hold d_out x d_in per layer until backward)
              dc_ij = irfft(sum_t rfft(dy_ti) conj(rfft(x_tj)))     2 activation FFTs instead of 4

The input x is saved by reference (no spectrum is kept), and the FFTs of the kernel gradient run over token
chunks, so the extra memory is W_eff plus one chunk's spectra. Precision: W_eff is W + Delta W rounded ONCE
to the GEMM dtype (the autocast dtype under autocast, else the weight's), the kernel gradient is computed in
fp32 (fp64 for fp64 inputs). With a bf16 base this rounds Delta W onto W's bf16 grid, as merging a LoRA into
bf16 weights does: entries of Delta W below half a bf16 step of W are not seen by the forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bca.adapters.kernels.circulant import (
    _check_kernel,
    _compute_dtype,
    _FFTFunction,
    _spectrum_freq_major,
    hankel_view,
)
from bca.adapters.kernels.circulant_ops import chunk_rows, complex_cross, cpu_budget, cpu_tricks, sum_tokens

__all__ = ["gemm_dtype", "linear_block_circulant_merged", "merged_weight"]

SLAB_ELEMENTS = 1 << 18  # CPU: W_eff is built in slabs of ~1 MB (fp32) that stay in L2 from read to write


def _slabs(m: int, p: int, rows: int):
    """(i0, i1, r0, r1): output rows r0..r1 of block rows i0..i1 (whole block rows when p <= rows)."""
    if p <= rows:
        step = rows // p
        for i0 in range(0, m, step):
            yield i0, min(m, i0 + step), 0, p
    else:
        for i in range(m):
            for r0 in range(0, p, rows):
                yield i, i + 1, r0, min(p, r0 + rows)


def merged_weight(weight: torch.Tensor, kernel: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """W + BC(kernel) as a (d_out, d_in) matrix of ``dtype`` (no autograd: ``out=`` writes).

    The sum is computed in the promoted dtype of W and the kernel and rounded once to ``dtype``. CPU: in
    slabs that stay in cache; elsewhere in one pass (one flip, one add).
    """
    m, q, p = kernel.shape
    hankel = hankel_view(kernel)
    out = torch.empty(m * p, q * p, dtype=dtype, device=kernel.device)
    rows = max(1, cpu_budget(SLAB_ELEMENTS) // (q * p)) if cpu_tricks(kernel) else m * p
    out4 = out.view(m, p, q, p)
    w4 = weight.reshape(m, p, q, p)
    for i0, i1, r0, r1 in _slabs(m, p, rows):
        delta = hankel[i0:i1, :, p - r1 : p - r0].flip(-2).permute(0, 2, 1, 3)  # [i, r, j, s] of BC
        torch.add(w4[i0:i1, r0:r1], delta, out=out4[i0:i1, r0:r1])
    return out


def gemm_dtype(x: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The dtype the base Linear's GEMM runs in: autocast's for non-fp64 inputs under autocast, else x's."""
    device = x.device.type
    if device != "meta" and torch.is_autocast_enabled(device) and torch.float64 not in (x.dtype, weight.dtype):
        return torch.get_autocast_dtype(device)
    return x.dtype


def kernel_grad(grad: torch.Tensor, x: torch.Tensor, shape: tuple[int, int, int], dtype: torch.dtype):
    """d loss / d kernel = irfft(sum_t G_ti conj(X_tj)) per block (i, j), token chunk by token chunk.

    grad (T, m*p) and x (T, q*p) in any float dtype; the FFTs run in ``dtype`` (fp32 or fp64).
    """
    m, q, p = shape
    n_freq = p // 2 + 1
    complex_bytes = 16 if dtype == torch.float64 else 8
    cross = None
    for rows in chunk_rows(grad, (m + q) * n_freq * complex_bytes):
        g, xc = grad[rows].to(dtype), x[rows].to(dtype)
        if q == m == 1:  # one block: an elementwise product summed over the chunk's tokens
            # conj in place: a product with a lazy conj() view would first clone the spectrum
            part = sum_tokens(torch.fft.rfft(g).mul_(torch.fft.rfft(xc).conj_physical_()))
        else:  # per frequency (m, Tc) @ (Tc, q): the token sum is the GEMM's inner dim
            part = complex_cross(_spectrum_freq_major(g, m, p), _spectrum_freq_major(xc, q, p))
        cross = part if cross is None else cross.add_(part)
    if q == m == 1:
        return torch.fft.irfft(cross, n=p).view(1, 1, p)
    return torch.fft.irfft(cross.permute(1, 2, 0), n=p)


class _MergedLinearFn(_FFTFunction):
    """y = x (W + BC(kernel))^T + b for x (T, d_in); the GEMMs in ``gemm``, the kernel gradient by FFTs."""

    @staticmethod
    def _forward(ctx, x, kernel, weight, bias, gemm):
        w_eff = merged_weight(weight, kernel, gemm)
        y = F.linear(x.to(gemm), w_eff, None if bias is None else bias.to(gemm))
        ctx.save_for_backward(x, kernel, weight)
        ctx.gemm, ctx.bias_dtype = gemm, None if bias is None else bias.dtype
        return y

    @staticmethod
    def _backward(ctx, grad):
        x, kernel, weight = ctx.saved_tensors
        need_x, need_kernel, need_weight, need_bias, _ = ctx.needs_input_grad
        g = grad.to(ctx.gemm)
        grad_x = (g @ merged_weight(weight, kernel, ctx.gemm)).to(x.dtype) if need_x else None
        grad_kernel = kernel_grad(grad, x, tuple(kernel.shape), kernel.dtype) if need_kernel else None
        grad_weight = (g.t() @ x.to(ctx.gemm)).to(weight.dtype) if need_weight else None
        grad_bias = g.sum(0).to(ctx.bias_dtype) if need_bias else None
        return grad_x, grad_kernel, grad_weight, grad_bias, None


def linear_block_circulant_merged(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernel: torch.Tensor
) -> torch.Tensor:
    """``F.linear(x, weight, bias) + block_circulant_matmul(x, kernel)`` through one GEMM with W + Delta W.

    Any float dtype: the GEMM runs where the base Linear's would (``gemm_dtype``), the output has that
    dtype, the kernel gradient is fp32 (fp64 for fp64 inputs) whatever the base dtype.
    """
    _check_kernel(x, kernel)
    m, q, p = kernel.shape
    compute = _compute_dtype(x, kernel)
    y = _MergedLinearFn.apply(x.reshape(-1, q * p), kernel.to(compute), weight, bias, gemm_dtype(x, weight))
    return y.view(*x.shape[:-1], m * p)
