"""Shared wrapper for our additive adapters: a frozen ``nn.Linear`` plus a Delta W that is never built in forward.

BCA and CDD differ only in their parameters, their FFT forward and how Delta W is materialised; merge/unmerge,
dtype handling and parameter bookkeeping live here once.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn


def valid_block_sizes(d_in: int, d_out: int) -> list[int]:
    """Block sizes p that tile a (d_out x d_in) weight: the divisors of gcd(d_in, d_out), ascending."""
    g = math.gcd(d_in, d_out)
    small = [k for k in range(1, math.isqrt(g) + 1) if g % k == 0]
    return sorted(set(small + [g // k for k in small]))


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_divides(block_size: int, d_in: int, d_out: int, where: str = "layer") -> None:
    """Raise a ValueError naming the shape and the valid sizes if ``block_size`` does not tile the weight."""
    check_positive_int("block_size", block_size)
    if d_in % block_size or d_out % block_size:
        raise ValueError(
            f"{where} (out x in = {d_out} x {d_in}): block_size {block_size} does not divide both dims; "
            f"valid block sizes: {valid_block_sizes(d_in, d_out)}"
        )


def normalise_targets(target_modules) -> list[str]:
    """Accept one name or any sequence (list, tuple, OmegaConf ListConfig) and return a non-empty list."""
    targets = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    if not targets or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"target_modules must be a non-empty list of module names, got {target_modules!r}")
    return targets


def matches_target(name: str, targets) -> bool:
    """peft's rule: a module matches a target if its name equals it or ends with '.' + target."""
    return any(name == t or name.endswith("." + t) for t in targets)


def check_choice(name: str, value, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {list(valid)}")


class AdapterLinear(nn.Module):
    """``forward(x) = base_layer(x) + adapter_forward(x)``; subclasses own parameters named ``<prefix>*``.

    Adapter parameters are fp32 whatever the base dtype (bf16 Adam updates of tiny kernels lose most of
    their bits); the adapter output is cast to the base output's dtype before the sum.
    """

    prefix: str = ""

    def __init__(self, base_layer: nn.Linear) -> None:
        if not isinstance(base_layer, nn.Linear):
            raise TypeError(f"{type(self).__name__} wraps nn.Linear only, got {type(base_layer).__name__}")
        super().__init__()
        self.base_layer = base_layer
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.merged = False

    # Some model code reads ``module.weight`` / ``.bias`` of a projection (dtype checks, tied weights).
    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    def _new_param(self, *shape: int) -> nn.Parameter:
        return nn.Parameter(torch.zeros(*shape, dtype=torch.float32, device=self.base_layer.weight.device))

    def adapter_named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Adapter parameters only (the base layer's are excluded), with names relative to this module."""
        return [(n, p) for n, p in self.named_parameters() if n.startswith(self.prefix)]

    def adapter_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def delta_weight(self) -> torch.Tensor:
        """Dense Delta W (d_out x d_in, adapter dtype): ``self(x) == base_layer(x) + x @ delta_weight().T``.

        O(d_out * d_in) memory: for merge, inspection and tests, never used by the forward pass.
        """
        raise NotImplementedError

    def can_fuse(self, x: torch.Tensor) -> bool:
        """True if the base layer may be computed inside the adapter's kernel instead of being called.

        Only a plain fp32/fp64 ``nn.Linear`` without hooks, outside autocast: anything else (quantised or
        hooked layers, bf16 bases or autocast, whose GEMM must stay in bf16) calls ``base_layer(x)`` unchanged.
        """
        base = self.base_layer
        return (
            type(base) is nn.Linear
            and not (base._forward_hooks or base._forward_pre_hooks)
            and x.dtype == base.weight.dtype
            and x.dtype in (torch.float32, torch.float64)
            and not (x.device.type != "meta" and torch.is_autocast_enabled(x.device.type))  # autocast: low precision
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        # In place: the base output is not saved by autograd, and on CPU a fresh T x d buffer costs page faults.
        return out.add_(self.adapter_forward(x).to(out.dtype))

    @torch.no_grad()
    def merge(self) -> None:
        """Add Delta W into the base weight so forward costs one matmul (inference)."""
        if self.merged:
            warnings.warn("adapter already merged; nothing to do", stacklevel=2)
            return
        weight = self.base_layer.weight
        weight += self.delta_weight().to(weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract Delta W again (exact up to rounding in the base dtype: lossy for bf16 weights)."""
        if not self.merged:
            warnings.warn("adapter not merged; nothing to do", stacklevel=2)
            return
        weight = self.base_layer.weight
        weight -= self.delta_weight().to(weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, merged={self.merged}"
