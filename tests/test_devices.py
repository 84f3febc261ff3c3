"""BCA and CDD layers on every available device and precision, each path, vs a float64 dense reference.

CPU always; CUDA when present (skipped with the reason otherwise, see ``devices.py``). Precisions: fp32,
bf16 and fp16 base layers, and fp32 layers under bf16/fp16 autocast. The reference is x W^T + b + x Delta W^T
in float64 from the very numbers the layer holds (under autocast, W, b and x rounded as the base GEMM
rounds them; the adapter always sees x itself), so what remains is the rounding of the layer's GEMM and
output: within ``tol`` of the output's scale. The kernel gradient is computed in fp32 on every path and is
compared to the float64 one for the same upstream gradient.
"""

import pytest
import torch
from devices import DEVICES, PRECISIONS, autocast
from reference import adapter_params, bca_layer, cdd_layer
from torch import nn

from bca.adapters import BCALinear
from bca.adapters.kernels.circulant import block_circulant_dense
from bca.adapters.kernels.circulant_cdd import cdd_dense
from bca.adapters.kernels.circulant_ops import kernel_style
from bca.adapters.kernels.exec_path import exec_path

LAYERS = {  # name -> (layer builder, d_in, d_out, block size); the adapter is "default"
    "bca-one-block": (bca_layer, 64, 64, 64),
    "bca-blocks": (bca_layer, 64, 32, 16),
    "cdd-one-block": (cdd_layer, 64, 64, 64),
    "cdd-blocks": (cdd_layer, 48, 32, 16),
}
TOKENS = 300  # enough rows that the merged path is the one "auto" picks for every layer here


def build(name: str, device: str, dtype: torch.dtype) -> nn.Module:
    make, d_in, d_out, p = LAYERS[name]
    torch.manual_seed(0)
    layer = make(nn.Linear(d_in, d_out), p, init="gaussian")
    with torch.no_grad():  # Delta W about as large as W: a wrong adapter term cannot hide in the tolerance
        for param in adapter_params(layer).values():
            param.mul_(0.3 if make is cdd_layer else 0.05)
    layer.base_layer.to(dtype)
    return layer.to(device)


def delta_weight64(layer: nn.Module, params: dict) -> torch.Tensor:
    """Delta W of ``layer`` in float64 from float64 copies of its adapter parameters (differentiable)."""
    if isinstance(layer, BCALinear):
        return block_circulant_dense(params["bca_kernel.default"])
    n = layer.num_factors["default"]
    diagonals = [params[f"cdd_diagonals.default.{k}"] for k in range(n + 1)]
    return cdd_dense(diagonals, [params[f"cdd_kernels.default.{k}"] for k in range(n)])


def reference(layer, x, upstream, autocast_dtype):
    params = {n: p.detach().double().requires_grad_() for n, p in adapter_params(layer).items()}
    x64 = x.detach().double().requires_grad_()
    base = layer.base_layer
    rounded = (lambda t: t.to(autocast_dtype).double()) if autocast_dtype is not None else (lambda t: t.double())
    y = rounded(x64) @ rounded(base.weight.detach()).T + rounded(base.bias.detach())
    y = y + x64 @ delta_weight64(layer, params).T
    return y, torch.autograd.grad(y, [x64, *params.values()], upstream.double())


@pytest.mark.parametrize("path", ["fft", "merged", "auto"])
@pytest.mark.parametrize("precision", list(PRECISIONS))
@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("device", DEVICES)
def test_layer_matches_dense_reference(device, name, precision, path):
    dtype, autocast_dtype, tol = PRECISIONS[precision]
    layer = build(name, device, dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(TOKENS, LAYERS[name][1], generator=g).to(device, dtype).requires_grad_()
    upstream = torch.randn(TOKENS, LAYERS[name][2], generator=g).to(device)
    with exec_path(path), autocast(device, autocast_dtype):
        y = layer(x)
    params = list(adapter_params(layer).values())
    got = torch.autograd.grad(y, [x, *params], upstream.to(y.dtype))
    y_ref, ref = reference(layer, x, upstream.to(y.dtype), autocast_dtype)

    expected_dtype = autocast_dtype or dtype
    assert y.dtype == expected_dtype and got[0].dtype == dtype
    assert all(p.dtype == torch.float32 and gp.dtype == torch.float32 for p, gp in zip(params, got[1:], strict=True))
    scale = y_ref.abs().max().item()
    torch.testing.assert_close(y.double(), y_ref, rtol=tol, atol=tol * scale)
    torch.testing.assert_close(got[0].double(), ref[0], rtol=tol, atol=tol * ref[0].abs().max().item())
    for gp, rp in zip(got[1:], ref[1:], strict=True):  # fp32 maths from the same inputs: fp32 tolerance
        torch.testing.assert_close(gp.double(), rp, rtol=1e-4, atol=1e-4 * rp.abs().max().item())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(LAYERS))
def test_cpu_and_plain_kernel_styles_agree(device, name):
    """The CPU tricks (float64-view transposes, real GEMMs, GEMV sums) and the plain ops of CUDA give the
    same layer to fp32 rounding, on each device (on CUDA the CPU style is slow but must still be right)."""
    layer = build(name, device, torch.float32)
    x = torch.randn(TOKENS, LAYERS[name][1], device=device, requires_grad=True)
    outs = {}
    for style in ("cpu", "plain"):
        with kernel_style(style), exec_path("fft"):
            y = layer(x)
            outs[style] = (y, *torch.autograd.grad(y.square().sum(), [x, *layer.parameters()], allow_unused=True))
    for a, b in zip(outs["cpu"], outs["plain"], strict=True):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * a.abs().max().item())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("autocast_dtype", [None, torch.bfloat16], ids=["fp32", "autocast-bf16"])
@pytest.mark.parametrize("method", ["bca", "cdd", "lora"])
def test_model_through_the_runner_path_on_device(device, autocast_dtype, method):
    """A tiny RoBERTa with the method put on as the runner does (``apply_method``), on the device: a finite
    loss and live adapter gradients; for BCA the auto path's loss and gradients equal the FFT path's."""
    from bca.config.hydra_app import compose
    from bca.methods import apply_method, split_trainable
    from bca.models import load_model

    init = [] if method == "lora" else ["method.init=gaussian"]  # Delta W != 0: the two paths must really agree
    cfg = compose(["model=tiny-roberta", f"method={method}", *init])
    torch.manual_seed(0)
    model = apply_method(load_model(cfg.model, num_labels=2).model, cfg.method).to(device).eval()  # no dropout
    ids = torch.randint(3, 1000, (8, 40), generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.tensor([0, 1] * 4, device=device)
    adapter = [p for _, p in split_trainable(model, method).adapter]
    results = {}
    for path in ("fft", "auto"):
        with exec_path(path), autocast(device, autocast_dtype):
            loss = model(input_ids=ids, labels=labels).loss
        results[path] = (loss, *torch.autograd.grad(loss, adapter))
    loss, *grads = results["auto"]
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    tol = 1e-4 if autocast_dtype is None else 3e-2  # bf16: the two paths round the base GEMM differently
    for a, b in zip(results["fft"], results["auto"], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * b.abs().max().item())
