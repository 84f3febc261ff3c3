"""The merged-weight path, the CPU/plain kernel styles and the path rule vs matrices built by hand (float64)."""

import pytest
import torch
from reference import bca_layer, dense_by_hand
from torch import nn

import bca.adapters.kernels.circulant_ops as ops
from bca.adapters.kernels.circulant import block_circulant_matmul, linear_block_circulant
from bca.adapters.kernels.circulant_cdd import cdd_matmul, linear_cdd
from bca.adapters.kernels.circulant_merged import linear_block_circulant_merged, merged_weight
from bca.adapters.kernels.circulant_ops import kernel_style
from bca.adapters.kernels.exec_path import choose_path, exec_path, requested_path

# (d_out, d_in, p): one block, several, non-square both ways, odd p, p = 1
SHAPES = [(12, 12, 12), (12, 12, 4), (6, 15, 3), (20, 8, 4), (10, 10, 5), (4, 4, 1), (16, 24, 8)]
STYLES = ["cpu", "plain"]


def make(*shape, seed=0, grad=True):
    g = torch.Generator().manual_seed(seed + sum(shape))
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk and slab budgets so small that the tests' shapes run in several token chunks and W slabs."""
    monkeypatch.setattr(ops, "CPU_CHUNK_BYTES", 1)
    monkeypatch.setattr("bca.adapters.kernels.circulant_merged.SLAB_ELEMENTS", 1)


def grads_vs_dense(fn, x, kernel, weight, bias):
    """Output and every gradient of ``fn`` vs x (W + BC)^T + b with BC written out entry by entry."""
    y = fn(x, weight, bias, kernel)
    expected = x @ (weight + dense_by_hand(kernel)).T + bias
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    upstream = make(*y.shape, seed=9, grad=False)
    inputs = [t for t in (x, kernel, weight, bias) if t.requires_grad]
    got = torch.autograd.grad((y * upstream).sum(), inputs)
    ref = torch.autograd.grad((expected * upstream).sum(), inputs)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("d_out,d_in,p", SHAPES)
@pytest.mark.parametrize("chunked", [False, True])
def test_merged_path_matches_dense(d_out, d_in, p, style, chunked, request):
    if chunked:
        request.getfixturevalue("small_chunks")
    x, kernel = make(50, d_in), make(d_out // p, d_in // p, p)
    weight, bias = make(d_out, d_in), make(d_out)  # a trainable base too: dW and db are checked as well
    with kernel_style(style):
        grads_vs_dense(linear_block_circulant_merged, x, kernel, weight, bias)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("d_out,d_in,p", SHAPES)
def test_fft_path_in_both_styles_matches_dense(d_out, d_in, p, style, small_chunks):
    """The FFT path's fused Function and plain product, over several token chunks, in each style."""
    x, kernel = make(50, d_in), make(d_out // p, d_in // p, p)
    weight, bias = make(d_out, d_in, grad=False), make(d_out, grad=False)  # frozen base: the usual case
    with kernel_style(style):
        grads_vs_dense(linear_block_circulant, x, kernel, weight, bias)
        grads_vs_dense(lambda x_, w, b, k: x_ @ w.T + b + block_circulant_matmul(x_, k), x, kernel, weight, bias)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("d_out,d_in,p", [(12, 12, 12), (8, 12, 4)])
def test_cdd_in_both_styles_matches_dense(d_out, d_in, p, style, small_chunks):
    x, a, b = make(40, d_in), make(d_in), make(d_out)
    kernel, weight, bias = make(d_out // p, d_in // p, p), make(d_out, d_in), make(d_out)
    expected = x @ (weight + torch.diag(b) @ dense_by_hand(kernel) @ torch.diag(a)).T + bias
    inputs = (x, a, kernel, b, weight, bias)
    ref = torch.autograd.grad(expected.square().sum(), inputs)
    with kernel_style(style):
        for y in (linear_cdd(x, weight, bias, a, kernel, b), x @ weight.T + bias + cdd_matmul(x, [a, b], [kernel])):
            torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
            got = torch.autograd.grad(y.square().sum(), inputs)
            for g, r in zip(got, ref, strict=True):
                torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("style", STYLES)
def test_merged_gradcheck(style):
    x, kernel, weight, bias = make(3, 6), make(2, 3, 2), make(4, 6), make(4)
    with kernel_style(style):
        assert torch.autograd.gradcheck(linear_block_circulant_merged, (x, weight, bias, kernel))


@pytest.mark.parametrize("d_out,d_in,p", SHAPES)
@pytest.mark.parametrize("slab", [1, 3, 10**6])  # partial block rows, several block rows, all at once
def test_merged_weight_is_w_plus_the_circulant_exactly(d_out, d_in, p, slab, monkeypatch):
    monkeypatch.setattr("bca.adapters.kernels.circulant_merged.SLAB_ELEMENTS", slab * d_in)
    kernel, weight = make(d_out // p, d_in // p, p, grad=False), make(d_out, d_in, grad=False)
    assert torch.equal(merged_weight(weight, kernel, torch.float64), weight + dense_by_hand(kernel))


def test_low_precision_merged_weight_is_rounded_once():
    """bf16 W + fp32 Delta W: summed in fp32 and rounded to bf16 once. W = 1 and Delta W = 2^-8 (1 + 2^-9):
    the sum lies just above half a bf16 step (2^-7) and rounds up, while Delta W rounded to bf16 first
    (2^-8) would make an exact tie that rounds to even, back to 1."""
    kernel = torch.full((1, 1, 1), 2.0**-8 * (1 + 2.0**-9))
    weight = torch.ones(1, 1, dtype=torch.bfloat16)
    assert merged_weight(weight, kernel, torch.bfloat16).item() == 1 + 2.0**-7
    assert (weight + kernel[0].bfloat16()).item() == 1.0  # what rounding twice would give
    kernel, weight = make(2, 2, 4, grad=False).float(), make(8, 8, grad=False).bfloat16()
    exact = (weight.double() + dense_by_hand(kernel.double())).float().bfloat16()
    assert torch.equal(merged_weight(weight, kernel, torch.bfloat16), exact)


def test_path_rule_by_device_dtype_and_tokens():
    assert choose_path(768, 768, 768, 10**6, "meta", torch.float32) == "fft"  # FLOP counting: the FFT path
    assert choose_path(768, 768, 768, 10**6, "cpu", torch.float64) == "fft"  # exactness tests
    for device in ("cpu", "cuda"):
        for p in (768, 128):  # one block and several: few tokens -> FFT, many -> one GEMM with W + Delta W
            assert choose_path(768, 768, p, 8, device, torch.float32) == "fft"
            assert choose_path(768, 768, p, 16384, device, torch.float32) == "merged"
            picks = [choose_path(768, 768, p, t, device, torch.bfloat16) for t in (8, 64, 512, 4096, 16384)]
            assert picks == sorted(picks)  # "fft" < "merged": once merged, merged for every larger count


def _path_taken(layer, x) -> str:
    """Which hand-written Function made ``layer(x)``: the node under the output's reshape."""
    node = layer(x).grad_fn
    while type(node).__name__ in ("ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0"):
        node = node.next_functions[0][0]
    name = type(node).__name__
    assert name in ("_MergedLinearFnBackward", "_BlockCirculantFnBackward"), name
    return "merged" if "Merged" in name else "fft"


def test_the_layer_takes_the_chosen_or_forced_path(monkeypatch):
    torch.manual_seed(0)
    layer = bca_layer(nn.Linear(16, 16), 4, init="gaussian")
    few, many = torch.randn(2, 16), torch.randn(4096, 16)
    assert (_path_taken(layer, few), _path_taken(layer, many)) == ("fft", "merged")
    with exec_path("fft"):
        assert _path_taken(layer, many) == "fft"
    monkeypatch.setenv("BCA_EXEC_PATH", "merged")
    assert requested_path() == "merged" and _path_taken(layer, few) == "merged"
    with exec_path("fft"):  # the context wins over the environment
        assert _path_taken(layer, few) == "fft"


def test_a_bad_path_name_says_what_is_valid(monkeypatch):
    with pytest.raises(ValueError, match=r"exec_path='gemm' is not valid; choose one of \['auto', 'fft', 'merged'\]"):
        with exec_path("gemm"):
            pass
    monkeypatch.setenv("BCA_EXEC_PATH", "dense")
    with pytest.raises(ValueError, match="BCA_EXEC_PATH='dense' is not valid"):
        bca_layer(nn.Linear(4, 4), 4)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="kernel style 'gpu' is not valid"):
        with kernel_style("gpu"):
            pass


def test_paths_agree_in_fp32_on_a_layer_with_a_hooked_base_falling_back():
    """fp32: both paths within fp32 rounding of each other; a hooked base Linear is called as it is."""
    torch.manual_seed(0)
    layer = bca_layer(nn.Linear(64, 32), 16, init="gaussian")
    x = torch.randn(300, 64, requires_grad=True)
    outs = {}
    for path in ("fft", "merged"):
        with exec_path(path):
            y = layer(x)
            outs[path] = (y, *torch.autograd.grad(y.square().sum(), (x, layer.bca_kernel["default"])))
    for a, b in zip(outs["fft"], outs["merged"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    seen = []
    layer.base_layer.register_forward_hook(lambda *args: seen.append(1))
    with exec_path("merged"):
        torch.testing.assert_close(layer(x), outs["fft"][0], rtol=1e-4, atol=1e-4)
    assert seen == [1]


def test_merged_path_without_bias_on_batched_input_and_under_no_grad():
    x, kernel, weight = make(2, 7, 12, grad=False), make(3, 3, 4), make(12, 12, grad=False)
    expected = x @ (weight + dense_by_hand(kernel)).T
    y = linear_block_circulant_merged(x, weight, None, kernel)
    assert y.shape == (2, 7, 12)
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    (gk,) = torch.autograd.grad(y.square().sum(), (kernel,))  # frozen input: only the kernel gradient
    torch.testing.assert_close(gk, torch.autograd.grad(expected.square().sum(), (kernel,))[0], rtol=1e-10, atol=1e-10)
    with torch.no_grad():  # evaluation: no graph, same values
        torch.testing.assert_close(linear_block_circulant_merged(x, weight, None, kernel), expected.detach())
