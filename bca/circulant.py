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
(complex64 viewed as float64). The input is saved for backward (not its spectrum): it is usually alive
anyway, so this costs one extra rfft in backward but no extra activation memory.
"""

from __future__ import annotations

import torch

__all__ = [
    "block_circulant_matmul",
    "block_circulant_dense",
    "cdd_matmul",
    "cdd_dense",
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


class _BlockCirculantFn(torch.autograd.Function):
    """y = BC(kernel) @ x for x of shape (T, d_in) and kernel (m, q, p); forward and backward via rfft."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        m, q, p = kernel.shape
        spec = torch.fft.rfft(kernel)  # (m, q, F), once per forward
        if q == m == 1:  # one block: the mixing is an elementwise product
            y = torch.fft.irfft(torch.fft.rfft(x) * spec[0, 0], n=p)
        else:  # per frequency: (T, q) @ (q, m)
            y = _irfft_freq_major(torch.bmm(_spectrum_freq_major(x, q, p), spec.permute(2, 1, 0)), p)
        ctx.save_for_backward(x, spec)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, spec = ctx.saved_tensors
        p = ctx.p
        m, q, _ = spec.shape
        need_x, need_kernel = ctx.needs_input_grad
        grad_x = grad_kernel = None
        if q == m == 1:
            g_spec = torch.fft.rfft(grad)  # (T, F)
            if need_x:
                grad_x = torch.fft.irfft(g_spec * spec[0, 0].conj(), n=p)
            if need_kernel:  # vecdot conjugates its first argument: sum_t conj(X_t) * G_t
                cross = torch.linalg.vecdot(torch.fft.rfft(x), g_spec, dim=0)
                grad_kernel = torch.fft.irfft(cross, n=p).view(1, 1, p)
            return grad_x, grad_kernel
        g_spec = _spectrum_freq_major(grad, m, p)  # (F, T, m)
        if need_x:  # (T, m) @ (m, q) per frequency with the conjugate kernel spectrum
            grad_x = _irfft_freq_major(torch.bmm(g_spec, spec.conj().permute(2, 0, 1)), p)
        if need_kernel:  # (m, T) @ (T, q) per frequency: the token sum is the matmul's inner dim
            cross = torch.bmm(g_spec.mT, _spectrum_freq_major(x, q, p).conj())  # (F, m, q)
            grad_kernel = torch.fft.irfft(cross.permute(1, 2, 0), n=p)
        return grad_x, grad_kernel


def block_circulant_matmul(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """BC(kernel) @ x over the last dim: x (..., d_in), kernel (d_out/p, d_in/p, p) -> (..., d_out).

    Never builds the dense matrix. Runs in fp32 (fp64 if either input is fp64) and returns x's dtype.
    """
    if kernel.dim() != 3:
        raise ValueError(f"kernel must have shape (d_out/p, d_in/p, p), got {tuple(kernel.shape)}")
    m, q, p = kernel.shape
    if x.shape[-1] != q * p:
        raise ValueError(f"input has {x.shape[-1]} features but the kernel expects d_in = {q} * {p} = {q * p}")
    dtype = _compute_dtype(x, kernel)
    y = _BlockCirculantFn.apply(x.reshape(-1, q * p).to(dtype), kernel.to(dtype))
    return y.view(*x.shape[:-1], m * p).to(x.dtype)


def block_circulant_dense(kernel: torch.Tensor) -> torch.Tensor:
    """Materialise BC(kernel) as a (d_out, d_in) matrix: block (i, j)[r, s] = kernel[i, j, (r - s) mod p].

    O(d_out * d_in) memory: for delta_weight / merge and tests, never for the forward pass.
    """
    m, q, p = kernel.shape
    r = torch.arange(p, device=kernel.device)
    blocks = kernel[..., (r[:, None] - r[None, :]) % p]  # (m, q, p, p): [i, j, r, s]
    return blocks.permute(0, 2, 1, 3).reshape(m * p, q * p)


def _check_chain(diagonals, kernels) -> None:
    if len(diagonals) != len(kernels) + 1:
        raise ValueError(f"a CDD chain with {len(kernels)} circulant factors needs {len(kernels) + 1} diagonals")


def cdd_matmul(x: torch.Tensor, diagonals, kernels) -> torch.Tensor:
    """CDD chain D_m BC_m ... D_1 BC_1 D_0 applied to x (..., d_in) with 1-D FFTs only.

    ``diagonals[k]`` is the vector of D_k, ``kernels[k-1]`` the block-circulant kernel of BC_k.
    """
    _check_chain(diagonals, kernels)
    h = x * diagonals[0]
    for kernel, diag in zip(kernels, diagonals[1:], strict=True):
        h = block_circulant_matmul(h, kernel) * diag
    return h


def cdd_dense(diagonals, kernels) -> torch.Tensor:
    """Materialise the CDD chain as a dense (d_out, d_in) matrix (for delta_weight / merge / tests).

    Diagonals scale rows/columns in place of matmuls, so one factor costs O(d_out * d_in), not O(d^3).
    """
    _check_chain(diagonals, kernels)
    dense = block_circulant_dense(kernels[0]) * diagonals[0] * diagonals[1][:, None]
    for kernel, diag in zip(kernels[1:], diagonals[2:], strict=True):
        dense = diag[:, None] * (block_circulant_dense(kernel) @ dense)
    return dense
