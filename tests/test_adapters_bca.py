"""BCA adapter layer and injection vs hand-built dense block-circulant matrices (float64)."""

import json

import pytest
import torch
from reference import Toy, dense_by_hand
from torch import nn

from bca.adapters import (
    BCAConfig,
    BCALinear,
    adapter_layers,
    apply_adapter,
    load_adapter,
    merge_adapter,
    save_adapter,
    unmerge_adapter,
)


def random_layer(d_in, d_out, p, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    layer = BCALinear(nn.Linear(d_in, d_out, dtype=dtype), p, init="gaussian")
    return layer.to(dtype)


@pytest.mark.parametrize("d_in,d_out,p", [(12, 12, 12), (12, 12, 3), (8, 20, 4), (15, 6, 3), (9, 9, 1)])
def test_forward_and_grads_match_dense(d_in, d_out, p):
    layer = random_layer(d_in, d_out, p)
    assert layer.bca_kernel.shape == (d_out // p, d_in // p, p)
    x = torch.randn(3, 4, d_in, dtype=torch.float64, requires_grad=True)
    dense = dense_by_hand(layer.bca_kernel)
    expected = x @ (layer.base_layer.weight + dense).T + layer.base_layer.bias
    y = layer(x)
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.delta_weight(), dense, rtol=0, atol=0)

    upstream = torch.randn_like(y)
    gx, gk = torch.autograd.grad((y * upstream).sum(), (x, layer.bca_kernel))
    gx_ref, gk_ref = torch.autograd.grad((expected * upstream).sum(), (x, layer.bca_kernel))
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gk, gk_ref, rtol=1e-10, atol=1e-10)


def test_fused_and_generic_paths_agree():
    """A plain fp64 Linear takes the fused kernel; a hooked one goes through base_layer(x) + adapter(x)."""
    layer = random_layer(12, 8, 4)
    x = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    assert layer.can_fuse(x)
    fused = layer(x)
    gx_fused, gk_fused = torch.autograd.grad(fused.square().sum(), (x, layer.bca_kernel))
    seen = []
    layer.base_layer.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    assert not layer.can_fuse(x)
    generic = layer(x)
    gx, gk = torch.autograd.grad(generic.square().sum(), (x, layer.bca_kernel))
    assert seen == [(5, 8)]  # the hook ran: the base layer was really called
    torch.testing.assert_close(fused, generic, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx_fused, gx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gk_fused, gk, rtol=1e-12, atol=1e-12)


def test_gradcheck_through_the_layer():
    layer = random_layer(6, 9, 3)
    x = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    kernel = layer.bca_kernel.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda inp, k: torch.func.functional_call(layer, {"bca_kernel": k}, (inp,)), (x, kernel)
    )


def test_zero_init_is_the_base_model_and_still_trains():
    layer = BCALinear(nn.Linear(8, 8, dtype=torch.float64), 4).double()
    x = torch.randn(5, 8, dtype=torch.float64)
    assert torch.equal(layer(x), layer.base_layer(x))
    layer(x).square().sum().backward()
    assert layer.bca_kernel.grad.abs().sum() > 0  # unlike LoRA's B=0 alone, one factor: the gradient is live


def test_merge_and_unmerge():
    layer = random_layer(12, 8, 4)
    x = torch.randn(7, 12, dtype=torch.float64)
    before, weight = layer(x), layer.base_layer.weight.clone()
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer.base_layer.weight, weight + dense_by_hand(layer.bca_kernel))
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, weight, rtol=0, atol=1e-15)
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)


def test_apply_wraps_targets_and_freezes_the_rest():
    model = apply_adapter(Toy(), BCAConfig(target_modules=["query", "value", "up"], block_size=6))
    assert sorted(adapter_layers(model)) == ["attn.query", "attn.value", "ffn.up"]
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    # analytic count: d_out * d_in / p per layer (12x12, 12x12, 18x12 with p = 6)
    assert trainable == {
        "attn.query.bca_kernel": 12 * 12 // 6,
        "attn.value.bca_kernel": 12 * 12 // 6,
        "ffn.up.bca_kernel": 18 * 12 // 6,
    }
    assert isinstance(model.attn["key"], nn.Linear) and not model.attn["key"].weight.requires_grad


def test_invalid_block_size_names_every_bad_layer_and_the_valid_sizes():
    with pytest.raises(ValueError) as err:
        apply_adapter(Toy(), BCAConfig(target_modules=["query", "up", "down"], block_size=4))
    msg = str(err.value)
    assert "3 target layers" in msg
    assert "layer 'ffn.up' (out x in = 18 x 12): block_size 4" in msg
    assert "layer 'ffn.down' (out x in = 12 x 18)" in msg
    assert "valid block sizes: [1, 2, 3, 6]" in msg  # divisors of gcd(12, 18)
    assert "attn.query" not in msg  # 4 divides 12 x 12


def test_unmatched_targets_list_the_linear_names():
    with pytest.raises(ValueError, match="matches no nn.Linear; Linear names here: classifier, down, key"):
        apply_adapter(Toy(), BCAConfig(target_modules=["q_proj"], block_size=4))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"block_size": 0}, "block_size must be a positive int"),
        ({"block_size": 4, "init": "xavier"}, "init='xavier' is not valid; choose one of"),
        ({"block_size": 4, "divide_lr_by_block_size": "yes"}, "must be a bool"),
        ({"block_size": 4, "target_modules": []}, "non-empty list"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BCAConfig(**{"target_modules": ["query"], **kwargs})


def test_lr_heuristic_scale():
    assert BCAConfig(["query"], 384).lr_scale == pytest.approx(1 / 384)
    assert BCAConfig(["query"], 384, divide_lr_by_block_size=False).lr_scale == 1.0


def test_model_level_merge_matches_unmerged_outputs():
    model = apply_adapter(Toy(), BCAConfig(target_modules=["query", "down"], block_size=6, init="gaussian"))
    x = torch.randn(4, 12, dtype=torch.float64)
    before = model(x)
    merge_adapter(model)
    torch.testing.assert_close(model(x), before, rtol=1e-12, atol=1e-12)
    unmerge_adapter(model)
    torch.testing.assert_close(model(x), before, rtol=1e-12, atol=1e-12)


def test_save_load_round_trip_is_exact(tmp_path):
    model = apply_adapter(Toy(seed=1), BCAConfig(target_modules=["query", "up"], block_size=3, init="gaussian"))
    x = torch.randn(4, 12, dtype=torch.float64)
    save_adapter(model, tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved == {
        "adapter_type": "bca",
        "target_modules": ["query", "up"],
        "block_size": 3,
        "init": "gaussian",
        "divide_lr_by_block_size": True,
    }
    fresh = load_adapter(Toy(seed=1), tmp_path)  # same base weights, adapter from disk
    for name, param in model.named_parameters():
        assert torch.equal(param, dict(fresh.named_parameters())[name]), name
    assert torch.equal(fresh(x), model(x))


def test_load_refuses_weights_that_do_not_fit(tmp_path):
    save_adapter(apply_adapter(Toy(), BCAConfig(target_modules=["query"], block_size=3)), tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    (tmp_path / "adapter_config.json").write_text(json.dumps({**config, "target_modules": ["query", "value"]}))
    with pytest.raises(ValueError, match=r"missing \['attn.value.bca_kernel'\]"):
        load_adapter(Toy(), tmp_path)


def test_bf16_base_model_runs_the_fft_in_fp32():
    torch.manual_seed(0)
    base = nn.Linear(64, 32, dtype=torch.bfloat16)
    layer = BCALinear(base, 16, init="gaussian")
    assert layer.bca_kernel.dtype == torch.float32  # adapter kept in fp32
    x = torch.randn(5, 64, dtype=torch.bfloat16, requires_grad=True)
    y = layer(x)
    assert y.dtype == torch.bfloat16
    exact = x.double() @ (base.weight.double() + dense_by_hand(layer.bca_kernel.double())).T + base.bias.double()
    torch.testing.assert_close(y.double(), exact, rtol=2e-2, atol=0.5)  # bf16 rounding of |y| ~ 30
    y.float().sum().backward()
    assert layer.bca_kernel.grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16
    # d(sum y)/dc_ij[k] = sum over tokens and the p entries of input block j, for every i and k
    block_sums = x.detach().double().view(5, 4, 16).sum(dim=(0, 2))
    torch.testing.assert_close(layer.bca_kernel.grad.double(), block_sums.view(1, 4, 1).expand(2, 4, 16))
    layer.merge()
    assert layer.base_layer.weight.dtype == torch.bfloat16
