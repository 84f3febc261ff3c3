"""The CDD chain D_m BC_m ... D_1 BC_1 D_0 (arXiv 2505.00580) on top of the block-circulant kernels.

``diagonals[k]`` is the vector of D_k, ``kernels[k-1]`` the (d_k/p, d_{k-1}/p, p) kernel of BC_k (first-column
convention, see ``circulant.py``). The generic chain is plain autograd over ``block_circulant_matmul``;
the usual single-factor case with a plain fp32 base Linear has one fused Function (``linear_cdd``) that
writes fewer activation-sized buffers and reduces the diagonal gradients with GEMVs (see ``_sum_tokens``).
"""

from __future__ import annotations

import torch

from bca.adapters.kernels.circulant import (
    _bc_backward,
    _bc_forward,
    _check_kernel,
    _FFTFunction,
    _sum_tokens,
    block_circulant_dense,
    check_fused,
)
from bca.adapters.kernels.circulant import block_circulant_matmul as _bc_matmul

__all__ = ["add_output_diagonal", "cdd_dense", "cdd_matmul", "cdd_matmul_before_last_diagonal", "linear_cdd"]


def _check_chain(diagonals, kernels) -> None:
    if len(diagonals) != len(kernels) + 1:
        raise ValueError(f"a CDD chain with {len(kernels)} circulant factors needs {len(kernels) + 1} diagonals")


def cdd_matmul(x: torch.Tensor, diagonals, kernels) -> torch.Tensor:
    """The chain applied to x (..., d_in) with 1-D FFTs only, never building a dense matrix."""
    _check_chain(diagonals, kernels)
    return cdd_matmul_before_last_diagonal(x, diagonals[:-1], kernels) * diagonals[-1]


def cdd_matmul_before_last_diagonal(x: torch.Tensor, diagonals, kernels) -> torch.Tensor:
    """BC_m D_{m-1} ... BC_1 D_0 x: the chain without its output diagonal, so that a caller can fuse
    ``out += D_m * result`` into one ``addcmul_`` pass over the activations."""
    if len(diagonals) != len(kernels):
        raise ValueError(f"{len(kernels)} circulant factors need {len(kernels)} diagonals before the last one")
    h = x * diagonals[0]
    for k, kernel in enumerate(kernels):
        h = _bc_matmul(h, kernel)
        if k + 1 < len(kernels):
            h = h * diagonals[k + 1]
    return h


def add_output_diagonal(out: torch.Tensor, z: torch.Tensor, diagonal: torch.Tensor) -> torch.Tensor:
    """``out += diagonal * z`` (the chain's last diagonal onto the base output), in place.

    Same dtype: one ``addcmul_`` pass. A low-precision ``out`` (bf16/fp16 base or autocast): the product is
    taken in z's dtype (fp32) and cast once, so the gradients of z and of the diagonal stay fp32; a bf16
    product would round dL/dz, hence every CDD gradient, to bf16 (tests/test_devices.py).
    """
    if out.dtype == z.dtype == diagonal.dtype:
        return out.addcmul_(z, diagonal)
    return out.add_((z * diagonal).to(out.dtype))


def cdd_dense(diagonals, kernels) -> torch.Tensor:
    """The chain as a dense (d_out, d_in) matrix (for delta_weight / merge / tests).

    Diagonals scale rows/columns in place of matmuls, so one factor costs O(d_out * d_in), not O(d^3).
    """
    _check_chain(diagonals, kernels)
    dense = block_circulant_dense(kernels[0]) * diagonals[0] * diagonals[1][:, None]
    for kernel, diag in zip(kernels[1:], diagonals[2:], strict=True):
        dense = diag[:, None] * (block_circulant_dense(kernel) @ dense)
    return dense


class _LinearCDDFn(_FFTFunction):
    """y = x W^T + b + a * BC(b_in * x) for one circulant factor, every gradient by hand."""

    @staticmethod
    def _forward(ctx, x, d_in, kernel, d_out, weight, bias):
        p = kernel.shape[-1]
        spec = torch.fft.rfft(kernel)
        z, h_spec = _bc_forward(x * d_in, spec, p)  # h = x * d_in is only needed through its spectrum
        y = torch.addmm(bias, x, weight.t()) if bias is not None else x @ weight.t()
        y.addcmul_(z, d_out)
        ctx.save_for_backward(x, d_in, h_spec, spec, z, d_out, weight)
        ctx.p = p
        return y

    @staticmethod
    def _backward(ctx, grad):
        x, d_in, h_spec, spec, z, d_out, weight = ctx.saved_tensors
        need_x, need_d_in, need_kernel, need_d_out, need_weight, need_bias = ctx.needs_input_grad
        grad_d_out = _sum_tokens(grad * z) if need_d_out else None
        grad_h, grad_kernel = _bc_backward(grad * d_out, h_spec, spec, ctx.p, need_x or need_d_in, need_kernel)
        grad_d_in = _sum_tokens(grad_h * x) if need_d_in else None
        grad_x = grad_h.mul_(d_in).addmm_(grad, weight) if need_x else None
        grad_weight = grad.t() @ x if need_weight else None
        grad_bias = _sum_tokens(grad) if need_bias else None
        return grad_x, grad_d_in, grad_kernel, grad_d_out, grad_weight, grad_bias


def linear_cdd(x, weight, bias, d_in, kernel, d_out) -> torch.Tensor:
    """``F.linear(x, weight, bias) + d_out * BC(kernel)(d_in * x)`` for fp32/fp64 x and weight of one dtype."""
    _check_kernel(x, kernel)
    check_fused(x, weight)
    m, q, p = kernel.shape
    cast = [t.to(x.dtype) for t in (d_in, kernel, d_out)]
    y = _LinearCDDFn.apply(x.reshape(-1, q * p), cast[0], cast[1], cast[2], weight, bias)
    return y.view(*x.shape[:-1], m * p)
