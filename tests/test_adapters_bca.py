"""BCA as a peft method vs hand-built dense block-circulant matrices (float64): the layer and get_peft_model."""

import json

import pytest
import torch
from peft import PeftModel, get_peft_model
from reference import Toy, bca_layer, dense_by_hand
from torch import nn

from bca.adapters import BCAConfig, BCALinear


def random_layer(d_in, d_out, p, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return bca_layer(nn.Linear(d_in, d_out, dtype=dtype), p, init="gaussian").to(dtype)


def kernel(layer, adapter="default"):
    return layer.bca_kernel[adapter]


@pytest.mark.parametrize("d_in,d_out,p", [(12, 12, 12), (12, 12, 3), (8, 20, 4), (15, 6, 3), (9, 9, 1)])
def test_forward_and_grads_match_dense(d_in, d_out, p):
    layer = random_layer(d_in, d_out, p)
    assert kernel(layer).shape == (d_out // p, d_in // p, p)
    x = torch.randn(3, 4, d_in, dtype=torch.float64, requires_grad=True)
    dense = dense_by_hand(kernel(layer))
    expected = x @ (layer.base_layer.weight + dense).T + layer.base_layer.bias
    y = layer(x)
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.get_delta_weight("default"), dense, rtol=0, atol=0)

    upstream = torch.randn_like(y)
    gx, gk = torch.autograd.grad((y * upstream).sum(), (x, kernel(layer)))
    gx_ref, gk_ref = torch.autograd.grad((expected * upstream).sum(), (x, kernel(layer)))
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gk, gk_ref, rtol=1e-10, atol=1e-10)


def test_fused_and_generic_paths_agree():
    """A plain fp64 Linear takes the fused kernel; a hooked one goes through base_layer(x) + adapter(x)."""
    layer = random_layer(12, 8, 4)
    x = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    assert layer.can_fuse(x)
    fused = layer(x)
    gx_fused, gk_fused = torch.autograd.grad(fused.square().sum(), (x, kernel(layer)))
    seen = []
    layer.base_layer.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    assert not layer.can_fuse(x)
    generic = layer(x)
    gx, gk = torch.autograd.grad(generic.square().sum(), (x, kernel(layer)))
    assert seen == [(5, 8)]  # the hook ran: the base layer was really called
    torch.testing.assert_close(fused, generic, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx_fused, gx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gk_fused, gk, rtol=1e-12, atol=1e-12)


def test_gradcheck_through_the_layer():
    layer = random_layer(6, 9, 3)
    x = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    k = kernel(layer).detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda inp, k: torch.func.functional_call(layer, {"bca_kernel.default": k}, (inp,)), (x, k)
    )


def test_zero_init_is_the_base_model_and_still_trains():
    layer = bca_layer(nn.Linear(8, 8, dtype=torch.float64), 4).double()
    x = torch.randn(5, 8, dtype=torch.float64)
    assert torch.equal(layer(x), layer.base_layer(x))
    layer(x).square().sum().backward()
    assert kernel(layer).grad.abs().sum() > 0  # unlike LoRA's B=0 alone, one factor: the gradient is live


def test_merge_and_unmerge():
    layer = random_layer(12, 8, 4)
    x = torch.randn(7, 12, dtype=torch.float64)
    before, weight = layer(x), layer.base_layer.weight.clone()
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer.base_layer.weight, weight + dense_by_hand(kernel(layer)))
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, weight, rtol=0, atol=1e-15)
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)


def peft_toy(config, seed=0):
    return get_peft_model(Toy(seed=seed), config).double()


def test_get_peft_model_wraps_targets_and_freezes_the_rest():
    model = peft_toy(BCAConfig(target_modules=["query", "value", "up"], block_size=6))
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, BCALinear))
    assert wrapped == [f"base_model.model.{n}" for n in ("attn.query", "attn.value", "ffn.up")]
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    # analytic count: d_out * d_in / p per layer (12x12, 12x12, 18x12 with p = 6)
    prefix = "base_model.model."
    assert trainable == {
        prefix + "attn.query.bca_kernel.default": 12 * 12 // 6,
        prefix + "attn.value.bca_kernel.default": 12 * 12 // 6,
        prefix + "ffn.up.bca_kernel.default": 18 * 12 // 6,
    }
    key = model.base_model.model.attn["key"]
    assert type(key) is nn.Linear and not key.weight.requires_grad


def test_invalid_block_size_names_every_bad_layer_and_the_valid_sizes():
    toy = Toy()
    with pytest.raises(ValueError) as err:
        get_peft_model(toy, BCAConfig(target_modules=["query", "up", "down"], block_size=4))
    msg = str(err.value)
    assert "BCAConfig cannot be applied to this model" in msg
    assert "layer 'ffn.up' (out x in = 18 x 12): block_size 4" in msg
    assert "layer 'ffn.down' (out x in = 12 x 18)" in msg
    assert "valid block sizes: [1, 2, 3, 6]" in msg  # divisors of gcd(12, 18)
    assert "attn.query" not in msg  # 4 divides 12 x 12
    assert not any(isinstance(m, BCALinear) for m in toy.modules())  # checked before anything was wrapped


def test_unmatched_targets_list_the_linear_names():
    with pytest.raises(ValueError, match="matches no module; Linear names here: classifier, down, key"):
        get_peft_model(Toy(), BCAConfig(target_modules=["q_proj"], block_size=4))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"block_size": 0}, "block_size must be a positive int"),
        ({}, "block_size must be a positive int, got None"),
        ({"block_size": 4, "init": "xavier"}, "init='xavier' is not valid; choose one of"),
        ({"block_size": 4, "divide_lr_by_block_size": "yes"}, "must be a bool"),
        ({"block_size": 4, "target_modules": []}, "non-empty module names"),
        ({"block_size": 4, "block_size_pattern": {"up": 0}}, r"block_size_pattern\['up'\] must be a positive int"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BCAConfig(**{"target_modules": ["query"], **kwargs})


def test_lr_heuristic_scale():
    assert BCAConfig(target_modules=["query"], block_size=384).lr_scale == pytest.approx(1 / 384)
    assert BCAConfig(target_modules=["query"], block_size=384, divide_lr_by_block_size=False).lr_scale == 1.0


def test_merge_and_unload_gives_plain_linears_with_the_same_outputs():
    model = peft_toy(BCAConfig(target_modules=["query", "down"], block_size=6, init="gaussian"))
    x = torch.randn(4, 12, dtype=torch.float64)
    before = model(x)
    merged = model.merge_and_unload()
    assert type(merged.attn["query"]) is nn.Linear and type(merged.ffn["down"]) is nn.Linear
    assert not any("bca_" in n for n, _ in merged.named_parameters())
    torch.testing.assert_close(merged(x), before, rtol=1e-12, atol=1e-12)


def test_save_and_from_pretrained_round_trip_is_exact(tmp_path):
    model = get_peft_model(Toy(seed=1), BCAConfig(target_modules=["query", "up"], block_size=3, init="gaussian"))
    x = torch.randn(4, 12, dtype=torch.float64)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved["peft_type"] == "BCA" and sorted(saved["target_modules"]) == ["query", "up"]
    assert (saved["block_size"], saved["init"], saved["divide_lr_by_block_size"]) == (3, "gaussian", True)
    fresh = PeftModel.from_pretrained(Toy(seed=1), tmp_path)  # same base weights, adapter from disk
    theirs = dict(fresh.named_parameters())
    for name, param in model.named_parameters():
        assert torch.equal(param, theirs[name]), name
    assert torch.equal(fresh(x), model(x))


def test_disable_adapter_gives_the_base_model_and_restores_training_state():
    model = peft_toy(BCAConfig(target_modules=["query", "up"], block_size=6, init="gaussian"))
    x = torch.randn(3, 12, dtype=torch.float64)
    base = Toy().double()(x)
    adapted = model(x)
    assert not torch.allclose(adapted, base)
    with model.disable_adapter():
        assert torch.equal(model(x), base)
    assert torch.equal(model(x), adapted)
    assert all(p.requires_grad for n, p in model.named_parameters() if "bca_kernel" in n)


def test_several_active_adapters_are_summed_not_chained():
    """y = W x + b + BC(c1) x + BC(c2) x, each adapter on the layer input (peft's C3A chains them instead)."""
    model = peft_toy(BCAConfig(target_modules=["query"], block_size=6, init="gaussian"))
    torch.manual_seed(7)
    model.add_adapter("second", BCAConfig(target_modules=["query"], block_size=3, init="gaussian"))
    model = model.double()
    model.base_model.set_adapter(["default", "second"])
    layer = model.base_model.model.attn["query"]
    assert layer.active_adapters == ["default", "second"] and layer.block_size == {"default": 6, "second": 3}
    x = torch.randn(5, 12, dtype=torch.float64)
    dense = layer.base_layer.weight + dense_by_hand(kernel(layer)) + dense_by_hand(kernel(layer, "second"))
    torch.testing.assert_close(layer(x), x @ dense.T + layer.base_layer.bias, rtol=1e-10, atol=1e-10)
    full = model(x)
    merged = model.merge_and_unload()  # merges both active adapters
    torch.testing.assert_close(merged(x), full, rtol=1e-12, atol=1e-12)


def test_an_added_adapter_is_frozen_until_it_is_set_active():
    model = peft_toy(BCAConfig(target_modules=["query"], block_size=6))
    model.add_adapter("second", BCAConfig(target_modules=["query"], block_size=3))
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["base_model.model.attn.query.bca_kernel.default"]


def test_block_size_pattern_gives_each_layer_its_own_block_size():
    config = BCAConfig(
        target_modules=["query", "up", "down"], block_size=12, block_size_pattern={"ffn.up": 6, "down": 3}
    )
    model = peft_toy(config)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters() if p.requires_grad}
    assert shapes == {
        "base_model.model.attn.query.bca_kernel.default": (1, 1, 12),
        "base_model.model.ffn.up.bca_kernel.default": (3, 2, 6),
        "base_model.model.ffn.down.bca_kernel.default": (4, 6, 3),
    }


def test_block_size_pattern_is_checked_against_every_matched_layer_up_front():
    toy = Toy()
    config = BCAConfig(target_modules=["query", "up", "down"], block_size=6, block_size_pattern={"up": 4, "mlp": 2})
    with pytest.raises(ValueError) as err:
        get_peft_model(toy, config)
    msg = str(err.value)
    assert "layer 'ffn.up' (out x in = 18 x 12): block_size 4 does not divide both dims" in msg
    assert "block_size_pattern key 'mlp' matches no target layer" in msg
    assert "ffn.down" not in msg and "attn.query" not in msg  # p = 6 divides those
    assert not any(isinstance(m, BCALinear) for m in toy.modules())


def test_bf16_base_model_runs_the_fft_in_fp32():
    torch.manual_seed(0)
    base = nn.Linear(64, 32, dtype=torch.bfloat16)
    layer = bca_layer(base, 16, init="gaussian")
    assert kernel(layer).dtype == torch.float32  # adapter kept in fp32
    x = torch.randn(5, 64, dtype=torch.bfloat16, requires_grad=True)
    y = layer(x)
    assert y.dtype == torch.bfloat16
    exact = x.double() @ (base.weight.double() + dense_by_hand(kernel(layer).double())).T + base.bias.double()
    torch.testing.assert_close(y.double(), exact, rtol=2e-2, atol=0.5)  # bf16 rounding of |y| ~ 30
    y.float().sum().backward()
    assert kernel(layer).grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16
    # d(sum y)/dc_ij[k] = sum over tokens and the p entries of input block j, for every i and k
    block_sums = x.detach().double().view(5, 4, 16).sum(dim=(0, 2))
    torch.testing.assert_close(kernel(layer).grad.double(), block_sums.view(1, 4, 1).expand(2, 4, 16))
    layer.merge()
    assert layer.base_layer.weight.dtype == torch.bfloat16


def test_parameters_stay_fp32_in_a_bf16_model():
    model = get_peft_model(Toy(dtype=torch.bfloat16), BCAConfig(target_modules=["query", "up"], block_size=6))
    params = [p for n, p in model.named_parameters() if "bca_kernel" in n]
    assert len(params) == 2 and {p.dtype for p in params} == {torch.float32}
    assert model.base_model.model.attn["query"].base_layer.weight.dtype == torch.bfloat16
    y = model(torch.randn(2, 12, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16


def test_whole_model_through_peft_matches_the_dense_reference():
    """get_peft_model's model == the same network with W + Delta W (hand-built) in every adapted layer, forward
    and kernel gradients."""
    model = peft_toy(BCAConfig(target_modules=["query", "up", "down"], block_size=6, init="gaussian"))
    inner = model.base_model.model
    dense = Toy().double()
    with torch.no_grad():
        for name in ("attn.query", "ffn.up", "ffn.down"):
            layer = inner.get_submodule(name)
            dense.get_submodule(name).weight += dense_by_hand(kernel(layer))
    x = torch.randn(3, 12, dtype=torch.float64)
    y, expected = model(x), dense(x)
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    y.square().sum().backward()
    expected.square().sum().backward()
    for name in ("attn.query", "ffn.up", "ffn.down"):
        # dL/dc = the dense weight gradient summed along each circulant diagonal (first-column convention)
        grad_w = dense.get_submodule(name).weight.grad
        k = kernel(inner.get_submodule(name))
        m, q, p = k.shape
        blocks = grad_w.view(m, p, q, p).permute(0, 2, 1, 3)  # (i, j, r, s)
        r, s = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        by_hand = torch.stack([(blocks * ((r - s) % p == t)).sum(dim=(2, 3)) for t in range(p)], dim=-1)
        torch.testing.assert_close(k.grad, by_hand, rtol=1e-10, atol=1e-10)
