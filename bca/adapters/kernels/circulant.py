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

Speed on CPU (scripts/bench_layers.py): one block (p = d) is an elementwise complex product. With several
blocks the per-frequency mixing is a batched matmul with frequencies as the batch dim, so the spectra are
moved between (tokens, blocks, freq) and (freq, tokens, blocks) layouts with a cache-blocked 2-D transpose
(complex64 viewed as float64), and the complex matmuls run as real GEMMs (``_complex_bmm``). The input
spectrum is saved for backward, so a training step costs 4 FFTs of the activations (x, y, dy, dx), not 5.
With a plain fp32 base Linear, ``linear_block_circulant`` also folds the base GEMMs into the same buffers.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = [
    "block_circulant_matmul",
    "linear_block_circulant",
    "block_circulant_dense",
]


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """fp64 if any input is fp64 (exact tests), else fp32 (the only dtype torch FFTs support everywhere)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _transpose2d(z: torch.Tensor, rows: int) -> torch.Tensor:
    """Contiguous transpose of complex ``z`` seen as a (rows, -1) matrix.

    torch's generic strided copy is slow for complex tensors; a complex64 element is 8 bytes, so it is
    viewed as one float64 to hit the cache-blocked 2-D transpose kernel (a pure bit copy, no arithmetic).
    """
    if z.dtype == torch.complex64:
        return z.view(torch.float64).reshape(rows, -1).t().contiguous().view(torch.complex64)
    return z.reshape(rows, -1).t().contiguous()


def _spectrum_freq_major(x: torch.Tensor, blocks: int, p: int) -> torch.Tensor:
    """(T, blocks*p) real -> (F, T, blocks) spectrum of every length-p block, F = p//2 + 1."""
    spec = torch.fft.rfft(x.reshape(-1, blocks, p))  # (T, blocks, F): FFT over the contiguous last dim
    return _transpose2d(spec, spec.shape[0] * blocks).view(-1, x.shape[0], blocks)


def _irfft_freq_major(spec: torch.Tensor, p: int) -> torch.Tensor:
    """(F, T, blocks) spectrum -> (T, blocks*p) real signal."""
    n_freq, tokens, blocks = spec.shape
    return torch.fft.irfft(_transpose2d(spec, n_freq).view(tokens, blocks, n_freq), n=p).view(tokens, -1)


def _real_matrix(z: torch.Tensor) -> torch.Tensor:
    """Complex (F, a, b) -> real (F, 2a, 2b) acting on interleaved (re, im) rows: see ``_complex_bmm``."""
    top = torch.stack([z.real, z.imag], dim=-1)  # what the real part of an input entry contributes
    bottom = torch.stack([-z.imag, z.real], dim=-1)  # ... and its imaginary part
    return torch.stack([top, bottom], dim=2).reshape(z.shape[0], 2 * z.shape[1], 2 * z.shape[2])


def _complex_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(F, T, k) @ (F, k, n) for complex tensors as ONE real batched GEMM.

    torch's CPU bmm has no fast complex path (it loops over the batch with copies: ~20x slower than this).
    Seen as real, an (re, im)-interleaved row of length 2k times the 2k x 2n real form of b is the complex
    product, so the work goes to the BLAS sgemm with the same 4 real multiplies per complex one.
    """
    n_freq, tokens, _ = a.shape
    out = torch.bmm(torch.view_as_real(a).reshape(n_freq, tokens, -1), _real_matrix(b))
    return torch.view_as_complex(out.view(n_freq, tokens, -1, 2))


def _complex_cross(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_t g[f, t, i] * conj(x[f, t, j]) -> (F, m, q): one real GEMM over the (long) token dim."""
    n_freq, tokens, m = g.shape
    q = x.shape[-1]
    prods = torch.bmm(
        torch.view_as_real(g).reshape(n_freq, tokens, 2 * m).mT, torch.view_as_real(x).reshape(n_freq, tokens, 2 * q)
    ).view(n_freq, m, 2, q, 2)  # [f, i, re/im of g, j, re/im of x]
    real = prods[:, :, 0, :, 0] + prods[:, :, 1, :, 1]
    imag = prods[:, :, 1, :, 0] - prods[:, :, 0, :, 1]
    return torch.complex(real, imag)


def _sum_tokens(z: torch.Tensor) -> torch.Tensor:
    """``z.sum(0)`` as a GEMV with a ones vector (real or complex z).

    ATen's reduction over a leading dim is strided and, with OpenMP threads on a busy CPU, ~10x slower
    than one BLAS GEMV that reads the same memory once.
    """
    flat = torch.view_as_real(z) if z.is_complex() else z
    flat = flat.reshape(z.shape[0], -1)
    out = torch.mv(flat.t(), flat.new_ones(z.shape[0]))
    return torch.view_as_complex(out.view(*z.shape[1:], 2)) if z.is_complex() else out.view(z.shape[1:])


def _token_chunks(tokens: int, n_freq: int):
    """Slices of token rows whose spectra (~1 MB) stay in cache from an FFT to the op that consumes them."""
    step = max(16, (1 << 17) // n_freq)
    return [slice(i, min(i + step, tokens)) for i in range(0, tokens, step)]


def _bc_forward(x: torch.Tensor, spec: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(BC x, the input spectrum) for x (T, q*p) and the kernel spectrum (m, q, F)."""
    m, q, n_freq = spec.shape
    if q == m == 1:  # one block: an elementwise product, chunk by chunk while each spectrum is in cache
        y = x.new_empty(x.shape[0], p)
        x_spec = torch.empty(x.shape[0], n_freq, dtype=spec.dtype, device=x.device)
        for rows in _token_chunks(x.shape[0], n_freq):
            chunk = torch.fft.rfft(x[rows], out=x_spec[rows])
            torch.fft.irfft(chunk * spec[0, 0], n=p, out=y[rows])
        return y, x_spec
    x_spec = _spectrum_freq_major(x, q, p)  # per frequency: (T, q) @ (q, m)
    return _irfft_freq_major(_complex_bmm(x_spec, spec.permute(2, 1, 0)), p), x_spec


def _bc_backward(grad, x_spec, spec, p: int, need_x: bool, need_kernel: bool):
    """(BC^T grad, d loss / d kernel) from the output gradient and the saved input spectrum."""
    m, q, n_freq = spec.shape
    grad_x = grad_kernel = None
    if q == m == 1:
        conj_kernel = spec[0, 0].conj()
        grad_x = grad.new_empty(grad.shape[0], p) if need_x else None
        cross = 0
        for rows in _token_chunks(grad.shape[0], n_freq):
            g_spec = torch.fft.rfft(grad[rows])
            if need_kernel:  # sum_t G_t * conj(X_t)
                cross = cross + _sum_tokens(g_spec * x_spec[rows].conj())
            if need_x:
                torch.fft.irfft(g_spec.mul_(conj_kernel), n=p, out=grad_x[rows])
        if need_kernel:
            grad_kernel = torch.fft.irfft(cross, n=p).view(1, 1, p)
        return grad_x, grad_kernel
    g_spec = _spectrum_freq_major(grad, m, p)  # (F, T, m)
    if need_x:  # (T, m) @ (m, q) per frequency with the conjugate kernel spectrum
        grad_x = _irfft_freq_major(_complex_bmm(g_spec, spec.conj().permute(2, 0, 1)), p)
    if need_kernel:  # (m, T) @ (T, q) per frequency: the token sum is the matmul's inner dim
        grad_kernel = torch.fft.irfft(_complex_cross(g_spec, x_spec).permute(1, 2, 0), n=p)
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


def block_circulant_dense(kernel: torch.Tensor) -> torch.Tensor:
    """Materialise BC(kernel) as a (d_out, d_in) matrix: block (i, j)[r, s] = kernel[i, j, (r - s) mod p].

    O(d_out * d_in) memory: for delta_weight / merge and tests, never for the forward pass.
    """
    m, q, p = kernel.shape
    r = torch.arange(p, device=kernel.device)
    blocks = kernel[..., (r[:, None] - r[None, :]) % p]  # (m, q, p, p): [i, j, r, s]
    return blocks.permute(0, 2, 1, 3).reshape(m * p, q * p)
