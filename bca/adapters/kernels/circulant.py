"""FFT kernels for circulant adapters: the one place the FFT maths lives (pure torch, no HF imports).

Convention (BCA paper): a p x p circulant block circ(c) is given by its FIRST COLUMN c,

    C[r, s] = c[(r - s) mod p],   so   C @ x = c (*) x (circular convolution) = irfft(rfft(c) * rfft(x)).

A block-circulant matrix of shape (d_out, d_in) has (d_out/p) x (d_in/p) such blocks; its kernel tensor has
shape (d_out/p, d_in/p, p) and ``kernel[i, j]`` is the first column of block (i, j). peft's C3A uses the
first ROW instead (C[r, s] = w[(s - r) mod p]); ``tests/test_c3a_relation.py`` maps one onto the other.

Why a custom ``autograd.Function``: autograd through complex ops keeps extra complex copies and runs a
generic (slower) backward. The exact backward is itself two FFT products (C^T is the circulant of c[-k],
whose spectrum is conj(rfft(c))):

    dx_j  = sum_i irfft(conj(C_ij) * G_i)            correlation of the output grad with the kernel
    dc_ij = irfft(sum_t G_ti * conj(X_tj))            correlation of the output grad with the input

Precision: torch's FFTs have no bf16 (fp16 only on GPU for powers of two), so the FFT path runs in fp32
(fp64 if given fp64, for gradcheck) and the result is cast back to the input dtype.

Speed (scripts/bench_layers.py): one block (p = d) is an elementwise complex product. With several blocks
the per-frequency mixing is a batched matmul with frequencies as the batch dim, so the spectra are moved
between (tokens, blocks, freq) and (freq, tokens, blocks) layouts, token chunk by token chunk (the layout
copies stay chunk-sized; the kernel gradient's token sum is accumulated over chunks). How the copies,
complex GEMMs and token sums run depends on the device (``bca.adapters.kernels.circulant_ops``: CPU tricks on CPU, plain
torch ops on CUDA). The input spectrum is saved for backward, so a training step costs 4 FFTs of the
activations (x, y, dy, dx), not 5. With a plain fp32 base Linear, ``linear_block_circulant`` also folds
the base GEMMs into the same buffers. BCA layers may instead take the merged-weight path
(``bca.adapters.kernels.circulant_merged``, chosen per call by ``bca.adapters.kernels.exec_path``).
"""

from __future__ import annotations

import contextlib

import torch

from bca.adapters.kernels.circulant_ops import chunk_rows, cpu_tricks
from bca.adapters.kernels.circulant_ops import complex_bmm as _complex_bmm
from bca.adapters.kernels.circulant_ops import complex_cross as _complex_cross
from bca.adapters.kernels.circulant_ops import sum_tokens as _sum_tokens
from bca.adapters.kernels.circulant_ops import token_chunks as _token_chunks
from bca.adapters.kernels.circulant_ops import transpose2d as _transpose2d

__all__ = [
    "block_circulant_matmul",
    "linear_block_circulant",
    "block_circulant_dense",
]


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """fp64 if any input is fp64 (exact tests), else fp32 (the only dtype torch FFTs support everywhere)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _spectrum_freq_major(x: torch.Tensor, blocks: int, p: int) -> torch.Tensor:
    """(T, blocks*p) real -> (F, T, blocks) spectrum of every length-p block, F = p//2 + 1."""
    spec = torch.fft.rfft(x.reshape(-1, blocks, p))  # (T, blocks, F): FFT over the contiguous last dim
    return _transpose2d(spec, spec.shape[0] * blocks).view(-1, x.shape[0], blocks)


def _irfft_freq_major(spec: torch.Tensor, p: int, out: torch.Tensor) -> torch.Tensor:
    """(F, T, blocks) spectrum -> ``out`` (T, blocks*p) real signal."""
    n_freq, tokens, blocks = spec.shape
    torch.fft.irfft(_transpose2d(spec, n_freq).view(tokens, blocks, n_freq), n=p, out=out.view(tokens, blocks, p))
    return out


def _chunks(t: torch.Tensor, n_freq: int) -> list[slice]:
    """Token chunks of the one-block path: cache-sized on CPU (``token_chunks``), else memory-bounded."""
    return _token_chunks(t.shape[0], n_freq) if cpu_tricks(t) else chunk_rows(t, 3 * 8 * n_freq)


def _block_chunks(t: torch.Tensor, m: int, q: int, n_freq: int) -> list[slice]:
    """Token chunks of the several-block path, sized by one chunk's input and output spectra ((m + q) F)."""
    return chunk_rows(t, (m + q) * n_freq * 2 * t.element_size())


def _bc_forward(x: torch.Tensor, spec: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(BC x, the input spectrum) for x (T, q*p) and the kernel spectrum (m, q, F)."""
    m, q, n_freq = spec.shape
    if q == m == 1:  # one block: an elementwise product, chunk by chunk while each spectrum is in cache
        y = x.new_empty(x.shape[0], p)
        x_spec = torch.empty(x.shape[0], n_freq, dtype=spec.dtype, device=x.device)
        for rows in _chunks(x, n_freq):
            chunk = torch.fft.rfft(x[rows], out=x_spec[rows])
            torch.fft.irfft(chunk * spec[0, 0], n=p, out=y[rows])
        return y, x_spec
    # Several blocks: per frequency (T, q) @ (q, m), token chunk by token chunk so that the layout copies stay
    # chunk-sized; the input spectrum is kept frequency-major for the kernel gradient's token-sum GEMM.
    chunks = _block_chunks(x, m, q, n_freq)
    y = x.new_empty(x.shape[0], m * p)
    mixing = spec.permute(2, 1, 0)
    if len(chunks) == 1:
        x_spec = _spectrum_freq_major(x, q, p)
        return _irfft_freq_major(_complex_bmm(x_spec, mixing), p, y), x_spec
    x_spec = torch.empty(n_freq, x.shape[0], q, dtype=spec.dtype, device=x.device)
    for rows in chunks:
        chunk = x_spec[:, rows].copy_(_spectrum_freq_major(x[rows], q, p))
        _irfft_freq_major(_complex_bmm(chunk, mixing), p, y[rows])
    return y, x_spec


def _bc_backward(grad, x_spec, spec, p: int, need_x: bool, need_kernel: bool):
    """(BC^T grad, d loss / d kernel) from the output gradient and the saved input spectrum."""
    m, q, n_freq = spec.shape
    grad_x = grad_kernel = None
    if q == m == 1:
        conj_kernel = spec[0, 0].conj()
        grad_x = grad.new_empty(grad.shape[0], p) if need_x else None
        cross = 0
        for rows in _chunks(grad, n_freq):
            g_spec = torch.fft.rfft(grad[rows])
            if need_kernel:  # sum_t G_t * conj(X_t), the product in the conjugate's buffer (one chunk less)
                cross = cross + _sum_tokens(x_spec[rows].conj_physical().mul_(g_spec))
            if need_x:
                torch.fft.irfft(g_spec.mul_(conj_kernel), n=p, out=grad_x[rows])
        if need_kernel:
            grad_kernel = torch.fft.irfft(cross, n=p).view(1, 1, p)
        return grad_x, grad_kernel
    grad_x = grad.new_empty(grad.shape[0], q * p) if need_x else None
    conj_mixing = spec.conj().permute(2, 0, 1)
    cross = None
    for rows in _block_chunks(grad, m, q, n_freq):
        g_spec = _spectrum_freq_major(grad[rows], m, p)  # (F, Tc, m)
        if need_x:  # (Tc, m) @ (m, q) per frequency with the conjugate kernel spectrum
            _irfft_freq_major(_complex_bmm(g_spec, conj_mixing), p, grad_x[rows])
        if need_kernel:  # (m, Tc) @ (Tc, q) per frequency: the token sum is the matmul's inner dim
            part = _complex_cross(g_spec, x_spec[:, rows])
            cross = part if cross is None else cross.add_(part)
    if need_kernel:
        grad_kernel = torch.fft.irfft(cross.permute(1, 2, 0), n=p)
    return grad_x, grad_kernel


def _no_autocast(t: torch.Tensor):
    """FFT maths stays in fp32 under autocast (bmm would be cast to bf16, which has no complex view)."""
    if t.device.type == "meta":  # shape-only tracing (bca-count): meta has no autocast
        return contextlib.nullcontext()
    return torch.autocast(t.device.type, enabled=False)


class _FFTFunction(torch.autograd.Function):
    """A hand-written FFT Function: subclasses give ``_forward`` / ``_backward``; both run with autocast off.

    The first input is the activation: its device decides which autocast to switch off.
    """

    @classmethod
    def forward(cls, ctx, x, *args):
        with _no_autocast(x):
            return cls._forward(ctx, x, *args)

    @staticmethod
    def backward(ctx, grad):
        with _no_autocast(grad):
            return ctx._forward_cls._backward(ctx, grad)


class _BlockCirculantFn(_FFTFunction):
    """y = BC(kernel) @ x [+ x @ weight.T + bias] for x (T, d_in), kernel (m, q, p); FFTs forward and backward.

    The optional dense part fuses the base Linear: its GEMMs accumulate in place into the FFT path's output
    buffers (``addmm_``), which saves the base layer's own output and input-gradient buffers.
    """

    @staticmethod
    def _forward(ctx, x, kernel, weight=None, bias=None):
        p = kernel.shape[-1]
        spec = torch.fft.rfft(kernel)  # (m, q, F), once per forward
        y, x_spec = _bc_forward(x, spec, p)
        if weight is not None:
            y.addmm_(x, weight.t())
        if bias is not None:
            y.add_(bias)
        # The input spectrum is kept for the kernel gradient: one rfft fewer in backward (4 FFTs per step
        # instead of 5) for one spectrum-sized activation per layer, freed when backward has run.
        need_weight = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        ctx.save_for_backward(x if need_weight else None, x_spec, spec, weight)
        ctx.p = p
        return y

    @staticmethod
    def _backward(ctx, grad):
        x, x_spec, spec, weight = ctx.saved_tensors
        n_inputs = len(ctx.needs_input_grad)  # 2 without the fused Linear, 4 with it
        need_x, need_kernel, need_weight, need_bias = (*ctx.needs_input_grad, False, False)[:4]
        grad_x, grad_kernel = _bc_backward(grad, x_spec, spec, ctx.p, need_x, need_kernel)
        if need_x and weight is not None:
            grad_x.addmm_(grad, weight)
        grad_weight = grad.t() @ x if need_weight else None
        grad_bias = _sum_tokens(grad) if need_bias else None
        return (grad_x, grad_kernel, grad_weight, grad_bias)[:n_inputs]


def _check_kernel(x: torch.Tensor, kernel: torch.Tensor) -> None:
    if kernel.dim() != 3:
        raise ValueError(f"kernel must have shape (d_out/p, d_in/p, p), got {tuple(kernel.shape)}")
    _, q, p = kernel.shape
    if x.shape[-1] != q * p:
        raise ValueError(f"input has {x.shape[-1]} features but the kernel expects d_in = {q} * {p} = {q * p}")


def check_fused(x: torch.Tensor, weight: torch.Tensor) -> None:
    """The fused base-Linear paths run the base GEMMs in the FFT dtype: fp32/fp64, one dtype for both."""
    if x.dtype not in (torch.float32, torch.float64) or weight.dtype != x.dtype:
        raise ValueError(f"fused path needs fp32/fp64 input and weight of the same dtype, got {x.dtype}/{weight.dtype}")


def block_circulant_matmul(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """BC(kernel) @ x over the last dim: x (..., d_in), kernel (d_out/p, d_in/p, p) -> (..., d_out).

    Never builds the dense matrix. Runs in fp32 (fp64 if either input is fp64) and returns x's dtype.
    """
    _check_kernel(x, kernel)
    m, q, p = kernel.shape
    dtype = _compute_dtype(x, kernel)
    y = _BlockCirculantFn.apply(x.reshape(-1, q * p).to(dtype), kernel.to(dtype))
    return y.view(*x.shape[:-1], m * p).to(x.dtype)


def linear_block_circulant(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernel: torch.Tensor
) -> torch.Tensor:
    """``F.linear(x, weight, bias) + block_circulant_matmul(x, kernel)`` in one pass over the activations.

    For fp32/fp64 layers (the FFTs need them); the kernel is cast to x's dtype. Same result as the sum,
    fewer T x d buffers: the base GEMMs write into the FFT path's output and input-gradient buffers.
    """
    _check_kernel(x, kernel)
    check_fused(x, weight)
    m, q, p = kernel.shape
    y = _BlockCirculantFn.apply(x.reshape(-1, q * p), kernel.to(x.dtype), weight, bias)
    return y.view(*x.shape[:-1], m * p)


def hankel_view(kernel: torch.Tensor) -> torch.Tensor:
    """A (m, q, p, p) strided VIEW H with H[i, j, a, s] = c_ij[(p - 1 - a - s) mod p]: block (i, j) of BC is
    H[i, j] with its rows reversed, BC_ij[r, s] = c_ij[(r - s) mod p] = H[i, j, p - 1 - r, s].

    A circulant (constant along r - s) would need a negative stride, which torch views cannot have; a Hankel
    matrix (constant along a + s) is a window view of the reversed kernel repeated twice (2p numbers per
    block). So a dense block costs one copy (the row reversal) and no p x p index tensor.
    """
    p = kernel.shape[-1]
    rev = kernel.flip(-1)
    return torch.cat([rev, rev], dim=-1).unfold(-1, p, 1)[..., :p, :]


def block_circulant_dense(kernel: torch.Tensor) -> torch.Tensor:
    """Materialise BC(kernel) as a (d_out, d_in) matrix: block (i, j)[r, s] = kernel[i, j, (r - s) mod p].

    O(d_out * d_in) memory: for delta_weight / merge and tests. Differentiable (copies of a strided view).
    """
    m, q, p = kernel.shape
    return hankel_view(kernel).flip(-2).permute(0, 2, 1, 3).reshape(m * p, q * p)
