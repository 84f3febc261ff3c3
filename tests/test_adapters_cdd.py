"""CDD as a peft method: Delta W = D_m C_m ... C_1 D_0 vs the product of hand-built dense matrices (float64)."""

import pytest
import torch
from peft import PeftModel, get_peft_model
from reference import Toy, adapter_params, cdd_layer, dense_by_hand
from torch import nn

from bca.adapters import CDDConfig, CDDLinear


def diagonals(layer, adapter="default"):
    return list(layer.cdd_diagonals[adapter])


def kernels(layer, adapter="default"):
    return list(layer.cdd_kernels[adapter])


def dense_cdd(layer: CDDLinear, adapter="default") -> torch.Tensor:
    """diag(D_m) @ C_m @ ... @ diag(D_1) @ C_1 @ diag(D_0), every factor an explicit matrix."""
    out = torch.diag(diagonals(layer, adapter)[0])
    for kernel, diag in zip(kernels(layer, adapter), diagonals(layer, adapter)[1:], strict=True):
        out = torch.diag(diag) @ dense_by_hand(kernel) @ out
    return out


def randomise_diagonals(layer, adapter="default"):
    with torch.no_grad():  # diagonals away from 1 so that a wrong order of factors shows
        for diag in diagonals(layer, adapter):
            diag.uniform_(-2, 2)


def random_layer(d_in, d_out, p, m=1, seed=0):
    torch.manual_seed(seed)
    layer = cdd_layer(nn.Linear(d_in, d_out, dtype=torch.float64), p, m, init="gaussian").double()
    randomise_diagonals(layer)
    return layer


@pytest.mark.parametrize(
    "d_in,d_out,p,m", [(12, 12, 12, 1), (12, 12, 4, 1), (8, 12, 4, 1), (12, 6, 6, 1), (12, 12, 12, 2), (6, 9, 3, 3)]
)
def test_forward_and_grads_match_dense(d_in, d_out, p, m):
    layer = random_layer(d_in, d_out, p, m)
    x = torch.randn(2, 3, d_in, dtype=torch.float64, requires_grad=True)
    dense = dense_cdd(layer)
    torch.testing.assert_close(layer.get_delta_weight("default"), dense, rtol=1e-12, atol=1e-12)
    y = layer(x)
    expected = x @ (layer.base_layer.weight + dense).T + layer.base_layer.bias
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    params = [x, *diagonals(layer), *kernels(layer)]
    grads = torch.autograd.grad(y.square().sum(), params)
    grads_ref = torch.autograd.grad(expected.square().sum(), params)
    for got, ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_fused_and_generic_paths_agree():
    layer = random_layer(8, 12, 4)
    x = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    params = [x, *adapter_params(layer).values()]
    assert layer.can_fuse(x)
    fused = layer(x)
    grads_fused = torch.autograd.grad(fused.square().sum(), params)
    layer.base_layer.register_forward_pre_hook(lambda module, args: None)  # any hook: generic path
    assert not layer.can_fuse(x)
    generic = layer(x)
    grads = torch.autograd.grad(generic.square().sum(), params)
    torch.testing.assert_close(fused, generic, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_fused, grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_square_single_factor_is_diag_circ_diag_with_3d_params():
    layer = random_layer(10, 10, 10)
    b, a = diagonals(layer)
    c = kernels(layer)[0][0, 0]
    circ = torch.stack([torch.roll(c, s) for s in range(10)], dim=1)  # column s = c shifted down by s
    torch.testing.assert_close(layer.get_delta_weight("default"), torch.diag(a) @ circ @ torch.diag(b))
    assert sum(p.numel() for p in adapter_params(layer).values()) == 3 * 10


def test_parameter_layout_for_non_square_and_several_factors():
    layer = cdd_layer(nn.Linear(12, 18), 6, num_factors=2)
    shapes = {n: tuple(p.shape) for n, p in adapter_params(layer).items()}
    assert shapes == {
        "cdd_diagonals.default.0": (12,),
        "cdd_diagonals.default.1": (12,),
        "cdd_diagonals.default.2": (18,),
        "cdd_kernels.default.0": (2, 2, 6),  # square on d_in
        "cdd_kernels.default.1": (3, 2, 6),  # d_in -> d_out, last
    }


@pytest.mark.parametrize("m", [1, 2, 3])
def test_zero_init_is_the_base_model_and_still_trains(m):
    layer = cdd_layer(nn.Linear(12, 8, dtype=torch.float64), 4, num_factors=m).double()
    x = torch.randn(5, 12, dtype=torch.float64)
    assert torch.equal(layer.get_delta_weight("default"), torch.zeros(8, 12, dtype=torch.float64))
    assert torch.equal(layer(x), layer.base_layer(x))
    layer(x).square().sum().backward()
    assert kernels(layer)[-1].grad.abs().sum() > 0
    for kernel in kernels(layer)[:-1]:  # the square factors start as the identity
        torch.testing.assert_close(dense_by_hand(kernel.detach()), torch.eye(12, dtype=torch.float64))


def test_default_block_size_is_the_gcd_per_layer():
    model = get_peft_model(Toy(d=12, ff=18), CDDConfig(target_modules=["query", "up", "down"]))
    inner = model.base_model.model
    assert inner.attn["query"].block_size == {"default": 12} and inner.ffn["up"].block_size == {"default": 6}
    counts = {n.removeprefix("base_model.model."): p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert counts["attn.query.cdd_kernels.default.0"] == 12  # square: one circulant
    assert counts["ffn.up.cdd_kernels.default.0"] == 18 * 12 // 6
    assert counts["ffn.up.cdd_diagonals.default.0"] == 12 and counts["ffn.up.cdd_diagonals.default.1"] == 18
    assert sum(counts.values()) == 3 * 12 + (12 + 18 + 36) * 2


def test_invalid_block_size_names_the_layer_and_valid_sizes():
    with pytest.raises(ValueError, match=r"layer 'ffn.up' \(out x in = 18 x 12\).*valid block sizes: \[1, 2, 3, 6\]"):
        get_peft_model(Toy(), CDDConfig(target_modules=["query", "up"], block_size=4))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"num_factors": 0}, "num_factors must be a positive int"), ({"init": "ones"}, "init='ones' is not valid")],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CDDConfig(target_modules=["query"], **kwargs)


def test_merge_then_unmerge():
    layer = random_layer(8, 12, 4, m=2)
    x = torch.randn(3, 8, dtype=torch.float64)
    before, weight = layer(x), layer.base_layer.weight.clone()
    layer.merge()
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, weight, rtol=0, atol=1e-14)


def test_save_and_from_pretrained_round_trip_is_exact(tmp_path):
    config = CDDConfig(target_modules=["value", "down"], num_factors=2, init="gaussian")
    model = get_peft_model(Toy(seed=3), config)
    randomise_diagonals(model.base_model.model.ffn["down"])
    model.save_pretrained(tmp_path)
    fresh = PeftModel.from_pretrained(Toy(seed=3), tmp_path)
    theirs = dict(fresh.named_parameters())
    assert all(torch.equal(p, theirs[n]) for n, p in model.named_parameters())
    x = torch.randn(2, 12, dtype=torch.float64)
    assert torch.equal(fresh(x), model(x))
    down = fresh.base_model.model.ffn["down"]
    assert down.num_factors == {"default": 2} and down.block_size == {"default": 6}


def test_merge_and_unload_disable_and_summed_adapters():
    model = get_peft_model(Toy(), CDDConfig(target_modules=["up"], init="gaussian")).double()
    layer = model.base_model.model.ffn["up"]
    randomise_diagonals(layer)
    torch.manual_seed(4)
    model.add_adapter("second", CDDConfig(target_modules=["up"], block_size=3, num_factors=2, init="gaussian"))
    model = model.double()
    randomise_diagonals(layer, "second")
    model.base_model.set_adapter(["default", "second"])
    x = torch.randn(4, 12, dtype=torch.float64)
    dense = layer.base_layer.weight + dense_cdd(layer) + dense_cdd(layer, "second")  # summed, not chained
    torch.testing.assert_close(layer(x), x @ dense.T + layer.base_layer.bias, rtol=1e-10, atol=1e-10)
    full = model(x)
    with model.disable_adapter():
        torch.testing.assert_close(model(x), Toy().double()(x), rtol=0, atol=0)
    merged = model.merge_and_unload()
    assert type(merged.ffn["up"]) is nn.Linear
    torch.testing.assert_close(merged(x), full, rtol=1e-12, atol=1e-12)


def test_bf16_base_model():
    torch.manual_seed(0)
    layer = cdd_layer(nn.Linear(32, 16, dtype=torch.bfloat16), 16, init="gaussian")
    x = torch.randn(4, 32, dtype=torch.bfloat16)
    y = layer(x)
    assert y.dtype == torch.bfloat16 and all(p.dtype == torch.float32 for p in adapter_params(layer).values())
    dense = dense_cdd(layer).double()
    exact = x.double() @ (layer.base_layer.weight.double() + dense).T + layer.base_layer.bias.double()
    torch.testing.assert_close(y.double(), exact, rtol=2e-2, atol=5e-2)
    y.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in adapter_params(layer).values())


def test_whole_model_through_peft_matches_the_dense_reference():
    model = get_peft_model(Toy(), CDDConfig(target_modules=["query", "up", "down"], num_factors=2, init="gaussian"))
    model = model.double()
    inner, dense = model.base_model.model, Toy().double()
    with torch.no_grad():
        for name in ("attn.query", "ffn.up", "ffn.down"):
            randomise_diagonals(inner.get_submodule(name))
            dense.get_submodule(name).weight += dense_cdd(inner.get_submodule(name))
    x = torch.randn(3, 12, dtype=torch.float64)
    torch.testing.assert_close(model(x), dense(x), rtol=1e-10, atol=1e-10)
