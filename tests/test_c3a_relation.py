"""peft's C3A and our BCA are the same family: first-ROW kernels w vs first-COLUMN kernels c.

C3A: block (i, j)[r, s] = w_ij[(s - r) mod b] / d_in (peft divides the output by d_in).
BCA: block (i, j)[r, s] = c_ij[(r - s) mod p].
So the same Delta W comes from c_ij[k] = w_ij[(-k) mod b] / d_in: a reversal of the kernel (index 0 kept)
and a scale. These tests check that mapping against peft's own layer, forward and delta weight.
"""

import pytest
import torch
from peft import C3AConfig, get_peft_model, inject_adapter_in_model
from reference import Toy, dense_by_hand

from bca.adapters import BCAConfig


def c3a_to_bca(w: torch.Tensor, d_in: int) -> torch.Tensor:
    """First-row kernel (peft C3A) -> first-column kernel (BCA) with the same Delta W."""
    return torch.roll(torch.flip(w, dims=[-1]), shifts=1, dims=-1) / d_in


def test_mapping_reverses_all_but_the_first_entry():
    w = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    assert torch.equal(c3a_to_bca(w, 1), torch.tensor([[[1.0, 4.0, 3.0, 2.0]]]))


@pytest.mark.parametrize("block", [12, 6, 3])
def test_peft_c3a_equals_bca_with_the_mapped_kernel(block):
    targets = ["query", "up"]  # 12x12 and 24x12 (non-square)
    c3a = inject_adapter_in_model(
        C3AConfig(block_size=block, target_modules=targets, init_weights="gaussian"), Toy(ff=24)
    )
    bca = get_peft_model(Toy(ff=24), BCAConfig(target_modules=targets, block_size=block)).base_model.model
    c3a, bca = c3a.float(), bca.float()
    with torch.no_grad():
        for name in ("attn.query", "ffn.up"):
            c3a_layer, bca_layer = c3a.get_submodule(name), bca.get_submodule(name)
            w = c3a_layer.c3a_kernel["default"]
            # peft's delta weight is the first-ROW block-circulant matrix divided by d_in
            torch.testing.assert_close(
                c3a_layer.get_delta_weight("default"), dense_by_hand(w, first="row") / c3a_layer.in_features
            )
            bca_layer.bca_kernel["default"].copy_(c3a_to_bca(w, c3a_layer.in_features))
            torch.testing.assert_close(bca_layer.get_delta_weight("default"), c3a_layer.get_delta_weight("default"))

    x = torch.randn(3, 5, 12)
    torch.testing.assert_close(bca(x), c3a(x), rtol=1e-5, atol=1e-5)
    for name in ("attn.query", "ffn.up"):
        torch.testing.assert_close(bca.get_submodule(name)(x), c3a.get_submodule(name)(x), rtol=1e-5, atol=1e-5)


def test_same_trainable_count_as_c3a():
    c3a = inject_adapter_in_model(C3AConfig(block_size=6, target_modules=["query", "up"]), Toy(ff=24))
    bca = get_peft_model(Toy(ff=24), BCAConfig(target_modules=["query", "up"], block_size=6))
    count = lambda m, key: sum(p.numel() for n, p in m.named_parameters() if key in n)
    assert count(c3a, "c3a_kernel") == count(bca, "bca_kernel") == 12 * 12 // 6 + 24 * 12 // 6
