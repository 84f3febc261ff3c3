"""FFT kernels vs matrices built entry by entry from the definition (first-column convention), in float64."""

import pytest
import torch
from reference import dense_by_hand

from bca.adapters.kernels.circulant import block_circulant_dense, block_circulant_matmul, linear_block_circulant
from bca.adapters.kernels.circulant_cdd import cdd_dense, cdd_matmul, linear_cdd

# (d_out, d_in, p): square, non-square both ways, one block, many blocks, odd and even p, p = 1
SHAPES = [(12, 12, 12), (12, 12, 4), (6, 15, 3), (20, 8, 4), (10, 10, 5), (7, 14, 7), (4, 4, 1), (16, 24, 8)]


def kernel_of(d_out, d_in, p, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d_out // p, d_in // p, p, generator=g, dtype=torch.float64, **kw)


def test_first_column_convention_on_a_3x3_block():
    c = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=torch.float64)
    expected = torch.tensor([[1.0, 3.0, 2.0], [2.0, 1.0, 3.0], [3.0, 2.0, 1.0]], dtype=torch.float64)
    assert torch.equal(block_circulant_dense(c), expected)
    assert torch.equal(block_circulant_dense(c)[:, 0], c[0, 0])  # the first column is the parameter


@pytest.mark.parametrize("d_out,d_in,p", SHAPES)
def test_dense_materialisation_matches_the_definition(d_out, d_in, p):
    kernel = kernel_of(d_out, d_in, p)
    assert torch.equal(block_circulant_dense(kernel), dense_by_hand(kernel))


@pytest.mark.parametrize("d_out,d_in,p", SHAPES)
def test_forward_and_gradients_match_the_dense_matrix(d_out, d_in, p):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, d_in, generator=g, dtype=torch.float64, requires_grad=True)
    kernel = kernel_of(d_out, d_in, p, requires_grad=True)
    upstream = torch.randn(2, 5, d_out, generator=g, dtype=torch.float64)

    y = block_circulant_matmul(x, kernel)
    gx, gk = torch.autograd.grad((y * upstream).sum(), (x, kernel))

    x_ref = x.detach().clone().requires_grad_()
    kernel_ref = kernel.detach().clone().requires_grad_()
    y_ref = x_ref @ dense_by_hand(kernel_ref).T  # the hand-built matrix is differentiable in the kernel
    gx_ref, gk_ref = torch.autograd.grad((y_ref * upstream).sum(), (x_ref, kernel_ref))

    assert y.shape == (2, 5, d_out)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gk, gk_ref, rtol=1e-10, atol=1e-10)


def test_one_block_over_many_token_chunks():
    """p = d with enough tokens that the single-block path runs in several cache-sized chunks."""
    from bca.adapters.kernels.circulant import _token_chunks

    p, tokens = 512, 1100
    assert len(_token_chunks(tokens, p // 2 + 1)) >= 3
    kernel = kernel_of(p, p, p, requires_grad=True)
    x = torch.randn(tokens, p, dtype=torch.float64, requires_grad=True)
    dense = block_circulant_dense(kernel)
    y = block_circulant_matmul(x, kernel)
    torch.testing.assert_close(y, x @ dense.T, rtol=1e-9, atol=1e-9)
    grads = torch.autograd.grad(y.sum(), (x, kernel))
    grads_ref = torch.autograd.grad((x @ dense.T).sum(), (x, kernel))
    for got, ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("d_out,d_in,p", [(6, 6, 6), (6, 9, 3), (8, 4, 4), (6, 6, 2)])
def test_gradcheck(d_out, d_in, p):
    x = torch.randn(3, d_in, dtype=torch.float64, requires_grad=True)
    kernel = kernel_of(d_out, d_in, p, requires_grad=True)
    assert torch.autograd.gradcheck(block_circulant_matmul, (x, kernel))


@pytest.mark.parametrize("d_out,d_in,p", [(12, 12, 12), (8, 20, 4), (15, 6, 3)])
@pytest.mark.parametrize("trainable_base", [False, True])
def test_fused_linear_matches_dense(d_out, d_in, p, trainable_base):
    """x @ (W + BC).T + b in one Function: values and every gradient (x, kernel, and W, b when trainable)."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, d_in, generator=g, dtype=torch.float64, requires_grad=True)
    kernel = kernel_of(d_out, d_in, p, requires_grad=True)
    weight = torch.randn(d_out, d_in, generator=g, dtype=torch.float64, requires_grad=trainable_base)
    bias = torch.randn(d_out, generator=g, dtype=torch.float64, requires_grad=trainable_base)
    y = linear_block_circulant(x, weight, bias, kernel)
    expected = x @ (weight + dense_by_hand(kernel)).T + bias
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    inputs = (x, kernel, weight, bias) if trainable_base else (x, kernel)
    upstream = torch.randn(y.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad((y * upstream).sum(), inputs)
    grads_ref = torch.autograd.grad((expected * upstream).sum(), inputs)
    for got, ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(linear_block_circulant, (x, weight, bias, kernel))


def test_fused_linear_refuses_low_precision():
    with pytest.raises(ValueError, match="fp32/fp64"):
        linear_block_circulant(torch.randn(2, 4).bfloat16(), torch.randn(4, 4).bfloat16(), None, torch.randn(1, 1, 4))


def test_only_the_needed_gradient_is_computed():
    x = torch.randn(4, 8, dtype=torch.float64)  # frozen input: the first layer of a network
    kernel = kernel_of(8, 8, 4, requires_grad=True)
    (gk,) = torch.autograd.grad(block_circulant_matmul(x, kernel).sum(), (kernel,))
    gk_ref = torch.autograd.grad((x @ dense_by_hand(kernel).T).sum(), (kernel,))[0]
    torch.testing.assert_close(gk, gk_ref)


def test_fp32_path_for_low_precision_inputs():
    kernel = kernel_of(16, 32, 8).float()
    x = torch.randn(3, 32, dtype=torch.bfloat16)
    y = block_circulant_matmul(x, kernel)
    assert y.dtype == torch.bfloat16
    exact = x.double() @ dense_by_hand(kernel.double()).T
    torch.testing.assert_close(y.double(), exact, rtol=1e-2, atol=1e-2)  # bf16 output rounding only


def test_shape_errors_say_what_is_expected():
    with pytest.raises(ValueError, match=r"d_in = 2 \* 4 = 8"):
        block_circulant_matmul(torch.randn(3, 6), torch.randn(1, 2, 4))
    with pytest.raises(ValueError, match="kernel must have shape"):
        block_circulant_matmul(torch.randn(3, 4), torch.randn(2, 4))


@pytest.mark.parametrize(
    "dims,p",
    [((12, 12), 12), ((12, 12, 12), 12), ((8, 12), 4), ((12, 8, 8), 4), ((6, 9, 3, 6), 3)],
)
def test_cdd_chain_matches_dense_product(dims, p):
    """dims = (d_0, d_1, ..., d_m): factor k maps d_{k-1} -> d_k; the chain is D_m BC_m ... D_1 BC_1 D_0."""
    g = torch.Generator().manual_seed(2)
    diagonals = [torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True) for d in dims]
    kernels = [
        torch.randn(o // p, i // p, p, generator=g, dtype=torch.float64, requires_grad=True)
        for i, o in zip(dims[:-1], dims[1:], strict=True)
    ]
    expected = torch.diag(diagonals[0])
    for kernel, diag in zip(kernels, diagonals[1:], strict=True):
        expected = torch.diag(diag) @ dense_by_hand(kernel) @ expected
    torch.testing.assert_close(cdd_dense(diagonals, kernels), expected, rtol=1e-12, atol=1e-12)

    x = torch.randn(5, dims[0], generator=g, dtype=torch.float64)
    y = cdd_matmul(x, diagonals, kernels)
    torch.testing.assert_close(y, x @ expected.T, rtol=1e-10, atol=1e-10)
    params = (*diagonals, *kernels)
    grads = torch.autograd.grad(y.square().sum(), params)
    grads_ref = torch.autograd.grad((x @ expected.T).square().sum(), params)
    for got, ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("d_out,d_in,p", [(12, 12, 12), (8, 12, 4)])
def test_fused_cdd_linear_matches_dense(d_out, d_in, p):
    g = torch.Generator().manual_seed(4)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    x, d_in_vec, kernel, d_out_vec = make(3, 2, d_in), make(d_in), make(d_out // p, d_in // p, p), make(d_out)
    weight, bias = make(d_out, d_in), make(d_out)
    y = linear_cdd(x, weight, bias, d_in_vec, kernel, d_out_vec)
    expected = x @ (weight + torch.diag(d_out_vec) @ dense_by_hand(kernel) @ torch.diag(d_in_vec)).T + bias
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    inputs = (x, d_in_vec, kernel, d_out_vec, weight, bias)
    grads = torch.autograd.grad(y.square().sum(), inputs)
    grads_ref = torch.autograd.grad(expected.square().sum(), inputs)
    for got, ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(linear_cdd, (x[:1], weight, bias, d_in_vec, kernel, d_out_vec))


def test_cdd_chain_needs_one_more_diagonal_than_kernels():
    with pytest.raises(ValueError, match="needs 2 diagonals"):
        cdd_matmul(torch.randn(2, 4), [torch.ones(4)], [torch.ones(1, 1, 4)])
