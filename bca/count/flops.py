"""Analytic FLOPs of one adapted Linear, per method, split into the frozen base layer and the adapter.

Why analytic: tables must compare methods at the papers' sizes (RoBERTa, LLaMA2-7B) without running
them, and a closed form shows *where* the cost is (per token vs once per forward). Each formula mirrors
the operations the implementation actually dispatches, so ``bca.count.flop_counter`` (which counts those ops)
must give the same number; ``tests/test_flops.py`` checks that for every method, forward and backward.

Counting convention (one convention, shared with ``bca.count.flop_counter``):
- real matmul (mm/addmm/bmm/baddbmm): 2 FLOPs per multiply-accumulate (MAC), bias adds not counted —
  the convention of ``torch.utils.flop_counter`` and of Kaplan et al. 2020 (C_fwd = 2N per token);
- complex matmul: 8 FLOPs per complex MAC (4 real multiplies + 4 real adds). ``bca.adapters.kernels.circulant`` runs its
  complex mixing as real GEMMs on (re, im)-interleaved operands, 4 real MACs per complex MAC: counted as
  the real matmuls they are, 2 x 4 = the same 8 FLOPs per complex MAC;
- complex x complex elementwise product: 6 FLOPs per element (4 multiplies + 2 adds);
- FFT of N points (N = product of the transformed sizes): 5·N·log2(N) for complex-to-complex, and half,
  2.5·N·log2(N), when the input (r2c) or the output (c2r) is real, whatever ``onesided`` says — the usual
  radix-2 estimate (FFTW's "mflops" benchmark convention, https://www.fftw.org/speed/method.html);
- not counted: elementwise real arithmetic (scalings, VeRA's λ vectors, diagonals, bias, activations,
  norms), real scalings of complex tensors, additions, reductions (also when written as a GEMV against a
  ones vector, ``bca.adapters.kernels.circulant._sum_tokens``: ``aten.mv`` is not mapped), casts, copies and index ops.
  These are O(T·d) and memory-bound; torch's FlopCounterMode ignores them too.

Backward rule (what autograd does, made explicit):
- the frozen base W needs only the gradient w.r.t. its input: 1x its forward matmul, and none at all when
  the layer input does not require grad (the first layer above frozen embeddings) -> ``input_grad``;
- an adapter adds the gradients w.r.t. its own parameters and w.r.t. its intermediate activations, as
  listed per method below. A training step is forward + backward; the optimiser update is not counted.

Which formula a method uses is part of its registration (``bca.methods``: ``Method.flops``; a method without
one is reported as "not counted").

Costs are linear in the token count T: ``per_token * T + per_call``, where ``per_call`` is work done once
per forward whatever T is (FourierFT's dense ΔW via a 2-D inverse DFT, the FFT of a circulant kernel).
FLOPs are floats: FFT counts of non-powers of two are not integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# ---- the convention ---------------------------------------------------------------------------------

REAL_MAC = 2
COMPLEX_MAC = 8
COMPLEX_MUL = 6


def fft_flops(n: int, kind: str = "c2c") -> float:
    """FLOPs of one FFT of ``n`` points: 5·n·log2(n) complex (c2c), half that for r2c/c2r."""
    if kind not in ("c2c", "r2c", "c2r"):
        raise ValueError(f"fft kind {kind!r} is not valid; choose c2c, r2c or c2r")
    if n <= 1:
        return 0.0
    full = 5.0 * n * math.log2(n)
    return full if kind == "c2c" else full / 2


# ---- cost containers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """FLOPs linear in the number of tokens T of one forward call: ``per_token * T + per_call``."""

    per_token: float = 0.0
    per_call: float = 0.0

    def at(self, tokens: int) -> float:
        return self.per_token * tokens + self.per_call

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.per_token + other.per_token, self.per_call + other.per_call)

    def scaled(self, k: float) -> Cost:
        return Cost(self.per_token * k, self.per_call * k)


@dataclass(frozen=True)
class LayerCost:
    """One adapted Linear: frozen base and adapter, forward and backward, kept apart for overhead tables."""

    base_fwd: Cost
    base_bwd: Cost
    adapter_fwd: Cost
    adapter_bwd: Cost

    @property
    def adapter_train(self) -> Cost:
        return self.adapter_fwd + self.adapter_bwd

    @property
    def base_train(self) -> Cost:
        return self.base_fwd + self.base_bwd

    @property
    def fwd(self) -> Cost:
        return self.base_fwd + self.adapter_fwd

    @property
    def train(self) -> Cost:
        return self.base_train + self.adapter_train


def base_cost(d_in: int, d_out: int, input_grad: bool = True) -> tuple[Cost, Cost]:
    """Frozen y = x W^T + b: forward addmm; backward only dL/dx = g W (no weight gradient)."""
    mac = d_in * d_out
    return Cost(REAL_MAC * mac), Cost(REAL_MAC * mac if input_grad else 0)


def _with_base(d_in: int, d_out: int, input_grad: bool, fwd: Cost, bwd: Cost) -> LayerCost:
    base_fwd, base_bwd = base_cost(d_in, d_out, input_grad)
    return LayerCost(base_fwd, base_bwd, fwd, bwd)


# ---- one function per method ------------------------------------------------------------------------


def lora_cost(d_in: int, d_out: int, r: int, input_grad: bool = True) -> LayerCost:
    """peft LoRA, ΔW x = B(A x) (arXiv 2106.09685): two thin matmuls forward; backward computes dB, the grad
    flowing into B's input, dA, and (if the input needs it) the grad into A's input."""
    fwd = REAL_MAC * r * (d_in + d_out)
    bwd = REAL_MAC * r * (2 * d_out + d_in + (d_in if input_grad else 0))
    return _with_base(d_in, d_out, input_grad, Cost(fwd), Cost(bwd))


def vera_cost(d_in: int, d_out: int, r: int, input_grad: bool = True) -> LayerCost:
    """peft VeRA, Λ_b B Λ_d A x (arXiv 2310.11454): same two matmuls as LoRA with r; A and B are frozen
    buffers, so backward needs only the grad into B's input (for λ_d) and, if needed, into A's input.
    The λ scalings and their gradients are elementwise (not counted)."""
    fwd = REAL_MAC * r * (d_in + d_out)
    bwd = REAL_MAC * r * (d_out + (d_in if input_grad else 0))
    return _with_base(d_in, d_out, input_grad, Cost(fwd), Cost(bwd))


def fourierft_cost(d_in: int, d_out: int, input_grad: bool = True) -> LayerCost:
    """peft FourierFT (arXiv 2405.03003, ``peft/tuners/fourierft/layer.py``): every forward scatters the n
    coefficients into a dense d_out x d_in spectrum and runs ``torch.fft.ifft2`` on it (n-D FFTs of real
    input are promoted to complex: one c2c 2-D FFT of d_out·d_in points), then
    a dense matmul with ΔW. Backward: dΔW = g^T x (dense, per token), dx = g ΔW if needed, and the adjoint
    2-D FFT (another c2c) to reach the spectrum. n does not enter: the dense work dominates."""
    n_points = d_in * d_out
    fwd = Cost(REAL_MAC * d_in * d_out, fft_flops(n_points, "c2c"))
    bwd = Cost(REAL_MAC * d_in * d_out * (2 if input_grad else 1), fft_flops(n_points, "c2c"))
    return _with_base(d_in, d_out, input_grad, fwd, bwd)


def complex_contraction(k: int, outputs: int) -> int:
    """Complex products summed over ``k`` terms, for each of ``outputs`` results: 8 per complex MAC, but when
    k == 1 ``torch.einsum`` turns the contraction into an elementwise product (6 per complex multiply)."""
    return (COMPLEX_MUL if k == 1 else COMPLEX_MAC * k) * outputs


def c3a_cost(d_in: int, d_out: int, b: int, input_grad: bool = True) -> LayerCost:
    """peft C3A (arXiv 2407.19342, ``peft/tuners/c3a/utils.py``): full-length complex FFTs (``torch.fft.fft``/
    ``ifft`` of real tensors dispatch r2c with onesided=False), an einsum over all b frequencies, and a c2c
    FFT back. Its custom autograd always computes dx (``input_grad`` is ignored) and re-transforms the
    kernel and the saved input in backward. n = d_in/b input blocks, m = d_out/b output blocks. The kernel
    gradient sums over the T tokens: 8 FLOPs per MAC (6 if T = 1, which this linear-in-T form ignores)."""
    n, m = d_in // b, d_out // b
    r2c, c2c = fft_flops(b, "r2c"), fft_flops(b, "c2c")
    fwd = Cost(n * r2c + complex_contraction(n, m * b) + m * c2c, m * n * r2c)
    # grad_out -> r2c; dx: einsum over m + c2c; dW: r2c(x) again + einsum over tokens; per call: r2c(kernel),
    # c2c(dW)
    dx = complex_contraction(m, n * b) + n * c2c
    dw = n * r2c + COMPLEX_MAC * n * m * b
    bwd = Cost(m * r2c + dx + dw, m * n * (r2c + c2c))
    return _with_base(d_in, d_out, input_grad, fwd, bwd)


def block_circulant_cost(d_in: int, d_out: int, p: int, input_grad: bool = True) -> tuple[Cost, Cost]:
    """Forward and backward of ``bca.adapters.kernels.circulant``'s ``_BlockCirculantFn`` (kernel (d_out/p, d_in/p, p)).

    n = d_in/p input blocks, m = d_out/p output blocks, f = p//2+1 non-redundant frequencies.
    Forward: rfft of each input block, the mixing over the f frequencies, irfft of each output block; the
    kernel's rfft once per call. Backward: rfft of the output grad; for dx (if needed) the mixing with the
    conjugate kernel spectrum + irfft of each input block; for the kernel grad the product of the output-grad
    spectrum with the input spectrum SAVED in forward (no second rfft of the input) summed over tokens, and one
    irfft of the kernel gradient per call. So a training step runs 4 activation FFTs (x, y, dy, dx), not 5.

    The mixing, as dispatched:
    - one block (n = m = 1): an elementwise complex product, 6 FLOPs per frequency and token (``aten.mul``);
    - several blocks: per frequency a complex (T x n) @ (n x m) product, run as ONE real batched GEMM on
      (re, im)-interleaved operands, (F, T, 2n) @ (F, 2n, 2m) (``_complex_bmm``; the kernel gradient's
      token sum is likewise (F, 2m, T) @ (F, T, 2n), ``_complex_cross``). That is 4 real MACs per complex
      MAC at 2 FLOPs each, i.e. the same 8 FLOPs per complex MAC as a complex matmul: the formula counts
      the real ``aten.bmm`` that runs. Building the 2n x 2m real form of the kernel spectrum (stack, negate)
      and recombining re/im parts are copies and additions (not counted).
    Not counted either: the layout transposes, the ``_sum_tokens`` GEMV against a ones vector (a reduction)
    and the fused base Linear's ``addmm_``, which belongs to ``base_cost``. The token chunks of the one-block
    path only split T, so the count is the same however the tokens are chunked.
    """
    n, m, f = d_in // p, d_out // p, p // 2 + 1
    r2c, c2r = fft_flops(p, "r2c"), fft_flops(p, "c2r")
    # 2 FLOPs x (2n x 2m) real MACs per frequency = 8 per complex MAC (the real GEMM of the several-block path)
    mix = COMPLEX_MUL * f if n == m == 1 else REAL_MAC * (2 * n) * (2 * m) * f
    fwd = Cost(n * r2c + mix + m * c2r, m * n * r2c)
    dx = mix + n * c2r if input_grad else 0
    dkernel = mix  # product with the saved input spectrum, summed over tokens
    bwd = Cost(m * r2c + dx + dkernel, m * n * c2r)
    return fwd, bwd


def bca_cost(d_in: int, d_out: int, p: int, input_grad: bool = True) -> LayerCost:
    """BCA (arXiv 2505.00582; ``bca.adapters.bca``): one block-circulant product, Delta W never built."""
    fwd, bwd = block_circulant_cost(d_in, d_out, p, input_grad)
    return _with_base(d_in, d_out, input_grad, fwd, bwd)


def bca_merged_cost(d_in: int, d_out: int, p: int, input_grad: bool = True) -> LayerCost:
    """BCA on its merged-weight path (``bca.adapters.kernels.circulant_merged``): what that path dispatches.

    Forward and input gradient are the base layer's own GEMMs with W + Delta W (building W + Delta W is
    copies and additions: not counted), so the adapter adds no forward FLOP. Backward adds only the kernel
    gradient: an rfft of every block of the output grad and of the input (the input spectrum is not saved
    on this path), their per-frequency product summed over tokens (the same mixing as the FFT path), and
    one irfft of the kernel gradient per call. Why it exists here: the benchmarks compare a measured step
    with the cheapest arithmetic either path can reach (``scripts/bench_layers.py``), and the kernel
    gradient, ~4·T·d_in·d_out/p FLOPs, is a floor no execution path avoids.
    """
    n, m, f = d_in // p, d_out // p, p // 2 + 1
    r2c, c2r = fft_flops(p, "r2c"), fft_flops(p, "c2r")
    mix = COMPLEX_MUL * f if n == m == 1 else REAL_MAC * (2 * n) * (2 * m) * f
    return _with_base(d_in, d_out, input_grad, Cost(), Cost((m + n) * r2c + mix, m * n * c2r))


def cdd_cost(d_in: int, d_out: int, p: int, num_factors: int = 1, input_grad: bool = True) -> LayerCost:
    """CDD (arXiv 2505.00580; ``bca.adapters.cdd``): D_m C_m ... C_1 D_0 x, applied right to left. C_1 ...
    C_{m-1} are square block-circulant on d_in, C_m maps d_in -> d_out, all with p x p blocks; diagonals are
    elementwise (not counted). D_0 is trainable, so every circulant factor's input needs a gradient whatever
    the layer input does: each factor pays its dx in backward. One factor with a plain fp32 base runs the
    fused ``bca.adapters.kernels.circulant_cdd.linear_cdd`` and more factors a chain of ``block_circulant_matmul``: both
    dispatch the same FFT and mixing ops per factor, hence one formula."""
    dims = [d_in] * num_factors + [d_out]
    fwd = bwd = Cost()
    for d_i, d_o in zip(dims[:-1], dims[1:], strict=True):
        f, b = block_circulant_cost(d_i, d_o, p, input_grad=True)
        fwd, bwd = fwd + f, bwd + b
    return _with_base(d_in, d_out, input_grad, fwd, bwd)
