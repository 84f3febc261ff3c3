"""Layout, mixing and reduction helpers of the FFT kernels, in two styles chosen by device.

The ``cpu`` style is tuned for a small CPU (scripts/bench_layers.py): complex spectra viewed as float64 for
a cache-blocked transpose, complex matmuls as real GEMMs (``complex_bmm``), token sums as a GEMV against a
ones vector, and one-block FFTs in cache-sized token chunks. None of that helps a GPU: cuBLAS has complex
GEMMs, CUDA reductions are fast, and chunking only launches more kernels. So CUDA (and any other
accelerator) gets the ``plain`` style: native complex ``bmm``, ``sum(0)``, one chunk. The meta device (FLOP
counting) takes the cpu style, so the counted ops are the ones a CPU run dispatches; both styles count the
same FLOPs (a complex MAC is 8 in ``bca.count.flop_counter``, and so is its 2x2 real form).

``kernel_style("plain")`` forces a style (tests run both on CPU and compare them to the dense reference).
"""

from __future__ import annotations

import contextlib

import torch

STYLES = ("cpu", "plain")
_forced: str | None = None


@contextlib.contextmanager
def kernel_style(style: str | None):
    """Force ``style`` (one of STYLES) for every kernel call inside the block; None: choose by device."""
    global _forced
    if style is not None and style not in STYLES:
        raise ValueError(f"kernel style {style!r} is not valid; choose one of {list(STYLES)} or None (by device)")
    previous, _forced = _forced, style
    try:
        yield
    finally:
        _forced = previous


def cpu_tricks(t: torch.Tensor) -> bool:
    """True where the cpu style runs: on CPU and meta tensors, unless a style is forced."""
    if _forced is not None:
        return _forced == "cpu"
    return t.device.type in ("cpu", "meta")


def transpose2d(z: torch.Tensor, rows: int) -> torch.Tensor:
    """Contiguous transpose of complex ``z`` seen as a (rows, -1) matrix.

    CPU: torch's generic strided copy is slow for complex tensors; a complex64 element is 8 bytes, so it is
    viewed as one float64 to hit the cache-blocked 2-D transpose kernel (a pure bit copy, no arithmetic).
    """
    if z.dtype == torch.complex64 and cpu_tricks(z):
        return z.view(torch.float64).reshape(rows, -1).t().contiguous().view(torch.complex64)
    return z.reshape(rows, -1).t().contiguous()


def _real_matrix(z: torch.Tensor) -> torch.Tensor:
    """Complex (F, a, b) -> real (F, 2a, 2b) acting on interleaved (re, im) rows: see ``complex_bmm``."""
    top = torch.stack([z.real, z.imag], dim=-1)  # what the real part of an input entry contributes
    bottom = torch.stack([-z.imag, z.real], dim=-1)  # ... and its imaginary part
    return torch.stack([top, bottom], dim=2).reshape(z.shape[0], 2 * z.shape[1], 2 * z.shape[2])


def complex_bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(F, T, k) @ (F, k, n) for complex tensors.

    CPU: torch's CPU bmm has no fast complex path (it loops over the batch with copies: ~20x slower than
    this). Seen as real, an (re, im)-interleaved row of length 2k times the 2k x 2n real form of b is the
    complex product, so the work goes to the BLAS sgemm with the same 4 real multiplies per complex one.
    """
    if not cpu_tricks(a):
        return torch.bmm(a, b)
    n_freq, tokens, _ = a.shape
    out = torch.bmm(torch.view_as_real(a).reshape(n_freq, tokens, -1), _real_matrix(b))
    return torch.view_as_complex(out.view(n_freq, tokens, -1, 2))


def complex_cross(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_t g[f, t, i] * conj(x[f, t, j]) -> (F, m, q): one GEMM over the (long) token dim."""
    if not cpu_tricks(g):
        return torch.bmm(g.mT, x.conj())
    n_freq, tokens, m = g.shape
    q = x.shape[-1]
    prods = torch.bmm(
        torch.view_as_real(g).reshape(n_freq, tokens, 2 * m).mT, torch.view_as_real(x).reshape(n_freq, tokens, 2 * q)
    ).view(n_freq, m, 2, q, 2)  # [f, i, re/im of g, j, re/im of x]
    real = prods[:, :, 0, :, 0] + prods[:, :, 1, :, 1]
    imag = prods[:, :, 1, :, 0] - prods[:, :, 0, :, 1]
    return torch.complex(real, imag)


def sum_tokens(z: torch.Tensor) -> torch.Tensor:
    """``z.sum(0)`` (real or complex z).

    CPU: as a GEMV with a ones vector. ATen's reduction over a leading dim is strided and, with OpenMP
    threads on a busy CPU, ~10x slower than one BLAS GEMV that reads the same memory once.
    """
    if not cpu_tricks(z):
        return z.sum(0)
    flat = torch.view_as_real(z) if z.is_complex() else z
    flat = flat.reshape(z.shape[0], -1)
    out = torch.mv(flat.t(), flat.new_ones(z.shape[0]))
    return torch.view_as_complex(out.view(*z.shape[1:], 2)) if z.is_complex() else out.view(z.shape[1:])


CPU_CHUNK_BYTES = 1 << 21  # CPU: a chunk's spectra (~2 MB) stay in L2 between the ops that make and use them
DEVICE_CHUNK_BYTES = 1 << 28  # elsewhere chunks only bound the transient memory (256 MB of spectra)


def cpu_budget(size: int) -> int:
    """A CPU chunk size scaled by threads squared.

    Every op over a chunk is one OpenMP parallel region; its fork / join waits for the slowest thread, and on
    a busy machine a descheduled one (measured at 2 threads with the load above the core count: L2-sized
    chunks made a 768 x 768 BCA step 4.5x LoRA's time, 8 MB chunks 2x). So chunks grow with the threads,
    more than linearly; one thread keeps the L2-sized chunks (and their results bit for bit).
    """
    threads = torch.get_num_threads()
    return size * threads * threads


def chunk_rows(t: torch.Tensor, bytes_per_token: int, min_rows: int = 16) -> list[slice]:
    """Slices of the rows of ``t`` holding about a chunk budget of spectra each (see the constants)."""
    budget = cpu_budget(CPU_CHUNK_BYTES) if cpu_tricks(t) else DEVICE_CHUNK_BYTES
    step = max(min_rows, budget // max(1, bytes_per_token))
    return [slice(i, min(i + step, t.shape[0])) for i in range(0, t.shape[0], step)]


def token_chunks(tokens: int, n_freq: int) -> list[slice]:
    """CPU: slices of token rows whose spectra (~1 MB) stay in cache from an FFT to the op that consumes them."""
    step = max(16, cpu_budget(1 << 17) // n_freq)
    return [slice(i, min(i + step, tokens)) for i in range(0, tokens, step)]
