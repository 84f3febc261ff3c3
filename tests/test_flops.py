"""Analytic FLOPs (bca.count.flops) == measured FLOPs (bca.count.flop_counter) on small real layers, for every method.

The measured side runs the real implementation (peft's layers, ours) under torch's FlopCounterMode with our
FFT/complex formulas; the analytic side is a closed form per method. They share only the convention (what a
complex MAC or an FFT costs), which the first tests pin against hand-written numbers.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bca.count.flop_counter import count_flops, flops_by_op, measure_module
from bca.count.flops import fft_flops
from bca.methods import apply_method, layer_cost
from bca.methods.spec import NotCounted

# ---- the convention, by hand ----------------------------------------------------------------------------


def test_real_matmul_is_two_flops_per_mac():
    a, b = torch.randn(3, 5), torch.randn(5, 7)
    assert count_flops(lambda: a @ b) == 2 * 3 * 5 * 7
    y = torch.zeros(3, 7)
    assert count_flops(lambda: y.addmm_(a, b)) == 2 * 3 * 5 * 7  # in place (bca's fused base Linear)
    assert count_flops(lambda: torch.zeros(2, 3, 7).baddbmm_(a.expand(2, 3, 5), b.expand(2, 5, 7))) == 2 * 2 * 3 * 5 * 7


def test_complex_matmul_is_eight_flops_per_mac_where_torch_counts_two():
    a = torch.randn(3, 5, dtype=torch.complex64)
    b = torch.randn(5, 7, dtype=torch.complex64)
    assert count_flops(lambda: a @ b) == 8 * 3 * 5 * 7
    with FlopCounterMode(display=False) as stock:
        a @ b
    assert stock.get_total_flops() == 2 * 3 * 5 * 7  # what the extension fixes


def test_complex_elementwise_product_is_six_flops_and_real_scalings_are_free():
    z, w = torch.randn(4, 9, dtype=torch.complex64), torch.randn(4, 9, dtype=torch.complex64)
    assert count_flops(lambda: z * w) == 6 * 4 * 9
    assert (
        count_flops(lambda: z.clone().mul_(w)) == 6 * 4 * 9
    )  # in place, as bca.adapters.kernels.circulant reuses spectra
    assert count_flops(lambda: z * 2.0) == 0
    assert count_flops(lambda: torch.randn(4, 9) * torch.randn(4, 9)) == 0


def test_fft_counts_follow_5_n_log2_n_where_torch_counts_zero():
    x = torch.randn(6, 64)
    assert count_flops(lambda: torch.fft.rfft(x)) == 6 * 2.5 * 64 * 6  # r2c: half of 5 N log2 N
    assert count_flops(lambda: torch.fft.fft(x.to(torch.complex64))) == 6 * 5 * 64 * 6
    assert count_flops(lambda: torch.fft.irfft(torch.fft.rfft(x), n=64)) == 2 * 6 * 2.5 * 64 * 6
    assert count_flops(lambda: torch.fft.ifft2(torch.randn(8, 16))) == 5 * 128 * 7  # 2-D: N = 8 * 16
    with FlopCounterMode(display=False) as stock:
        torch.fft.rfft(x)
    assert stock.get_total_flops() == 0
    assert fft_flops(48, "c2c") == pytest.approx(5 * 48 * math.log2(48))
    assert fft_flops(1) == 0
    with pytest.raises(ValueError, match="choose c2c, r2c or c2r"):
        fft_flops(8, "dct")


# ---- every method: analytic == measured on a real small layer ------------------------------------------


class OneLayer(nn.Module):
    """A single Linear named like RoBERTa's query projection, so every method's target rule finds it."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.query = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.query(x)


METHODS = {
    "lora r=4": dict(name="lora", r=4, alpha=8, dropout=0.0),
    "vera r=16": dict(name="vera", r=16, dropout=0.0, d_initial=0.1, projection_seed=0),
    "fourierft n=20": dict(name="fourierft", n_frequency=20, scaling=10.0, random_loc_seed=1),
    "c3a b=8": dict(name="c3a", block_size=8, init="xavier_uniform"),
    "c3a b=16": dict(name="c3a", block_size=16, init="xavier_uniform"),
    "bca p=8": dict(name="bca", block_size=8, init="gaussian", divide_lr_by_block_size=True),
    "bca p=16": dict(name="bca", block_size=16, init="gaussian", divide_lr_by_block_size=True),
    "cdd gcd": dict(name="cdd", block_size=None, num_factors=1, init="gaussian"),
    "cdd p=8 m=3": dict(name="cdd", block_size=8, num_factors=3, init="gaussian"),
}
SHAPES = [(16, 16), (16, 32), (32, 48), (64, 16)]  # square (one block at p = d), wide, tall


def method_cfg(spec: dict) -> SimpleNamespace:
    return SimpleNamespace(target_modules=["query"], lr=1.0, head_lr=1.0, **spec)


@pytest.mark.parametrize("input_grad", [True, False], ids=["input-grad", "frozen-input"])
@pytest.mark.parametrize("d_in,d_out", SHAPES)
@pytest.mark.parametrize("method", list(METHODS))
def test_analytic_equals_measured(method, d_in, d_out, input_grad):
    torch.manual_seed(0)
    cfg = method_cfg(METHODS[method])
    model = apply_method(OneLayer(d_in, d_out), cfg)
    batch, seq = 3, 5
    measured = measure_module(model, torch.randn(batch, seq, d_in, requires_grad=input_grad))
    cost = layer_cost(cfg, d_in, d_out, input_grad)
    tokens = batch * seq
    assert measured["fwd"] == pytest.approx(cost.fwd.at(tokens), rel=1e-12)
    assert measured["train"] == pytest.approx(cost.train.at(tokens), rel=1e-12)
    assert cost.adapter_fwd.at(tokens) > 0  # the adapter is really counted, not only the frozen base


def test_one_block_bca_is_an_elementwise_product_and_several_blocks_a_real_gemm():
    """The two code paths of the BCA kernel (bca.adapters.kernels.circulant) have different mixing costs:
    check the formula picks the right one."""
    tokens, d = 10, 32
    one = layer_cost(method_cfg(METHODS["bca p=8"] | {"block_size": 32}), d, d)
    four = layer_cost(method_cfg(METHODS["bca p=8"] | {"block_size": 8}), d, d)
    r2c32, r2c8 = 2.5 * 32 * 5, 2.5 * 8 * 3
    assert one.adapter_fwd.at(tokens) == pytest.approx(tokens * (2 * r2c32 + 6 * 17) + r2c32)
    # 4 x 4 blocks, 5 frequencies: a real (T, 8) @ (8, 8) GEMM per frequency = 8 FLOPs per complex MAC
    assert four.adapter_fwd.at(tokens) == pytest.approx(tokens * (8 * r2c8 + 2 * 8 * 8 * 5) + 16 * r2c8)


def _bca_layer_step_by_op(d: int, p: int, tokens: int) -> tuple[dict, dict]:
    """Per-op FLOPs of one BCA layer's forward and backward (input needs a grad)."""
    torch.manual_seed(0)
    model = apply_method(OneLayer(d, d), method_cfg(METHODS["bca p=8"] | {"block_size": p}))
    x = torch.randn(tokens, d, requires_grad=True)
    y = None

    def forward():
        nonlocal y
        y = model(x)

    fwd = flops_by_op(forward)
    return fwd, flops_by_op(lambda: y.backward(torch.ones_like(y)))


def test_several_blocks_mix_with_a_real_bmm_and_backward_reuses_the_input_spectrum():
    """By hand for d = 32, p = 8 (4 x 4 blocks, 5 frequencies), T = 10: the mixing is a REAL aten.bmm worth
    8 FLOPs per complex MAC, and backward rffts only the output grad (the input spectrum is saved), so a step
    transforms the activations 4 times: rfft(x), irfft(y), rfft(dy), irfft(dx)."""
    tokens, r2c8 = 10, 2.5 * 8 * 3
    fwd, bwd = _bca_layer_step_by_op(32, 8, tokens)
    mix = 2 * tokens * 8 * 8 * 5  # (T, 2*4) @ (2*4, 2*4) real GEMM per frequency
    assert fwd["aten.bmm"] == mix and bwd["aten.bmm"] == 2 * mix  # dx and the kernel grad
    assert fwd["aten._fft_r2c"] == tokens * 4 * r2c8 + 16 * r2c8  # rfft(x) + the kernel's rfft
    assert bwd["aten._fft_r2c"] == tokens * 4 * r2c8  # rfft(dy) only
    assert fwd["aten._fft_c2r"] == tokens * 4 * r2c8 and bwd["aten._fft_c2r"] == tokens * 4 * r2c8 + 16 * r2c8


def test_one_block_count_does_not_depend_on_the_token_chunks(monkeypatch):
    """The one-block path loops over cache-sized token chunks: enough tokens for several chunks must cost what
    one chunk of all tokens costs, and what the analytic formula says."""
    import bca.adapters.kernels.circulant

    d, tokens = 512, 1100
    assert len(bca.adapters.kernels.circulant._token_chunks(tokens, d // 2 + 1)) >= 3
    cfg = method_cfg(METHODS["bca p=8"] | {"block_size": d})
    torch.manual_seed(0)
    model = apply_method(OneLayer(d, d), cfg)
    x = torch.randn(tokens, d, requires_grad=True)
    chunked = measure_module(model, x)
    monkeypatch.setattr(bca.adapters.kernels.circulant, "_token_chunks", lambda t, f: [slice(0, t)])
    whole = measure_module(model, x)
    assert chunked == whole
    cost = layer_cost(cfg, d, d)
    assert chunked["fwd"] == pytest.approx(cost.fwd.at(tokens), rel=1e-12)
    assert chunked["train"] == pytest.approx(cost.train.at(tokens), rel=1e-12)


def test_fourierft_pays_its_2d_inverse_dft_once_per_forward():
    cost = layer_cost(method_cfg(METHODS["fourierft n=20"]), 768, 768)
    assert cost.adapter_fwd.per_call == pytest.approx(5 * 768**2 * math.log2(768**2))
    assert cost.adapter_fwd.per_token == 2 * 768**2  # the dense Delta W matmul: as costly as the base layer


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="valid methods: bca, c3a, cdd"):
        layer_cost(SimpleNamespace(name="dora"), 8, 8)


def test_a_config_only_method_is_not_counted():
    cfg = SimpleNamespace(name="ia3", peft_config="IA3Config", fields={}, target_modules=["query"], settings=[])
    with pytest.raises(NotCounted, match="no FLOP formula for method 'ia3'"):
        layer_cost(cfg, 8, 8)


@pytest.mark.parametrize("input_grad", [True, False], ids=["input-grad", "frozen-input"])
@pytest.mark.parametrize("d_in,d_out,p", [(32, 32, 32), (32, 32, 8), (16, 48, 8)])
def test_merged_path_count_equals_what_it_dispatches(d_in, d_out, p, input_grad):
    """bca_merged_cost against the merged-weight path run under FlopCounterMode (not the FFT-path counter):
    forward = the base GEMM only; backward = the base's input-grad GEMM + the kernel gradient."""
    from bca.adapters.kernels.exec_path import exec_path
    from bca.count.flop_counter import FORMULAS
    from bca.count.flops import bca_merged_cost

    torch.manual_seed(0)
    model = apply_method(OneLayer(d_in, d_out), method_cfg(METHODS["bca p=8"] | {"block_size": p}))
    x = torch.randn(3, 5, d_in, requires_grad=input_grad)
    with exec_path("merged"):
        with FlopCounterMode(display=False, custom_mapping=FORMULAS) as fwd:
            y = model(x)
        with FlopCounterMode(display=False, custom_mapping=FORMULAS) as bwd:
            y.backward(torch.ones_like(y))
    cost = bca_merged_cost(d_in, d_out, p, input_grad)
    assert cost.adapter_fwd.at(15) == 0 and cost.adapter_bwd.at(15) > 0
    assert fwd.get_total_flops() == pytest.approx(cost.fwd.at(15), rel=1e-12)
    assert bwd.get_total_flops() == pytest.approx((cost.base_bwd + cost.adapter_bwd).at(15), rel=1e-12)
    # by hand for the one-block case: rfft of dy and of x (2.5 p log2 p each) + 6 FLOPs per frequency, per token
    if p == d_in == d_out:
        per_token = 2 * 2.5 * p * math.log2(p) + 6 * (p // 2 + 1)
        assert cost.adapter_bwd.at(15) == pytest.approx(15 * per_token + 2.5 * p * math.log2(p))
