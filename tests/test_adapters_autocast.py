"""Under bf16 autocast the base GEMM runs in bf16 while the FFT path stays fp32 (both adapters, both paths)."""

import pytest
import torch
from reference import adapter_params, bca_layer, cdd_layer
from torch import nn


@pytest.mark.parametrize("make", [bca_layer, cdd_layer], ids=["bca", "cdd"])
@pytest.mark.parametrize("p", [32, 8])  # one block (elementwise product) and several (real GEMMs)
def test_autocast_bf16(make, p):
    torch.manual_seed(0)
    layer = make(nn.Linear(32, 32), p, init="gaussian")
    x = torch.randn(6, 32, requires_grad=True)
    reference = layer(x)
    assert not torch.is_autocast_enabled("cpu") and layer.can_fuse(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # BCA runs the base GEMM itself on either path, in autocast's dtype (kernels/exec_path.py); CDD's fused
        # kernel would run it in fp32, so CDD calls the base Linear. Either way the output is bf16, as autocast asks.
        assert layer.can_fuse(x) == (make is bca_layer)
        y = layer(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), reference, rtol=5e-2, atol=0.1)
    y.float().sum().backward()
    for param in adapter_params(layer).values():
        assert param.grad.dtype == torch.float32 and torch.isfinite(param.grad).all()
