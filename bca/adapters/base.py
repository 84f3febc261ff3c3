"""What BCA and CDD share as peft tuners: shape checks, the per-layer block size, the tuner layer and the tuner.

Both are additive: ``y = W x + b + sum over active adapters of Delta W_a x``, with Delta W never built in the
forward pass (the FFT kernels in ``kernels/circulant.py``). peft's own C3A feeds one adapter's output into the next
when several are active (huggingface/peft#3164); ours sum, like LoRA. Adapter parameters are fp32 whatever the
base dtype (bf16 Adam updates of tiny kernels lose most of their bits); their output is cast to the base
output's dtype before the sum.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import torch
from peft.config import PeftConfig
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer, check_adapters_to_merge, check_target_module_exists
from peft.utils import TRANSFORMERS_MODELS_TO_C3A_TARGET_MODULES_MAPPING
from peft.utils.other import get_pattern_key
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


def matches_target(name: str, targets) -> bool:
    """peft's rule for a list of names: a module matches if its name equals one or ends with '.' + one."""
    return any(name == t or name.endswith("." + t) for t in targets)


def check_choice(name: str, value, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {list(valid)}")


def linear_of(module: nn.Module) -> nn.Linear | None:
    """The ``nn.Linear`` a module is or wraps (a tuner layer of an earlier adapter), else None."""
    base = module.get_base_layer() if isinstance(module, BaseTunerLayer) else module
    return base if isinstance(base, nn.Linear) else None


@dataclass
class CirculantConfig(PeftConfig):
    """Fields and checks BCA and CDD share; subclasses add ``block_size`` and their own knobs."""

    target_modules: list[str] | str | None = field(
        default=None,
        metadata={
            "help": "Modules to adapt: a list of names (a Linear matches if its name equals one or ends with "
            "'.<name>') or one regex matched against the full name. None: peft's defaults for the architecture."
        },
    )
    exclude_modules: list[str] | str | None = field(
        default=None, metadata={"help": "Modules not to adapt, by the same rule as target_modules."}
    )
    block_size_pattern: dict[str, int] = field(
        default_factory=dict,
        metadata={
            "help": "Per-module block sizes that differ from block_size, like peft's rank_pattern: "
            "{'attention.self.query': 64, 'mlp.down_proj': 32}; a key matches a module name that ends with it "
            "(or as a regex). Checked against every matched layer before anything is wrapped."
        },
    )
    modules_to_save: list[str] | None = field(
        default=None,
        metadata={"help": "Modules trained in full and saved with the adapter, e.g. ['classifier'] for a new head."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.target_modules, list):
            if not self.target_modules or not all(isinstance(t, str) and t for t in self.target_modules):
                raise ValueError(f"target_modules must be non-empty module names, got {self.target_modules!r}")
            self.target_modules = set(self.target_modules)  # peft's convention (it matches sets and regexes)
        if not isinstance(self.block_size_pattern, dict):
            raise ValueError(
                f"block_size_pattern must be a dict of name -> block size, got {self.block_size_pattern!r}"
            )
        for key, size in self.block_size_pattern.items():
            check_positive_int(f"block_size_pattern[{key!r}]", size)

    def layer_block_size(self, name: str, d_in: int, d_out: int) -> int:
        """p for the layer called ``name``: its block_size_pattern entry, else the config's ``block_size``."""
        key = get_pattern_key(list(self.block_size_pattern), name)
        return self.block_size_pattern[key] if key in self.block_size_pattern else self.block_size

    def layer_problems(self, model: nn.Module) -> list[str]:
        """Everything that keeps this config off ``model``, found before any layer is wrapped (one message)."""
        tuner_layers = [n + "." for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
        matched = {  # peft's matching rule (an _ExcludedModule is falsy); never inside an earlier adapter's layer
            n: m
            for n, m in model.named_modules()
            if n and check_target_module_exists(self, n) and not any(n.startswith(t) for t in tuner_layers)
        }
        if not matched:
            names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
            targets = self.target_modules if isinstance(self.target_modules, str) else sorted(self.target_modules)
            return [f"target_modules={targets!r} matches no module; Linear names here: {', '.join(names)}"]
        problems, used = [], set()
        for name, module in matched.items():
            linear = linear_of(module)
            if linear is None:
                problems.append(f"layer {name!r} is a {type(module).__name__}; only nn.Linear layers can be adapted")
                continue
            used.add(get_pattern_key(list(self.block_size_pattern), name))
            try:
                check_divides(self.layer_block_size(name, linear.in_features, linear.out_features),
                              linear.in_features, linear.out_features, where=f"layer {name!r}")  # fmt: skip
            except ValueError as err:
                problems.append(str(err))
        problems += [
            f"block_size_pattern key {key!r} matches no target layer"
            for key in self.block_size_pattern
            if key not in used
        ]
        return problems


class CirculantLayer(BaseTunerLayer):
    """peft tuner-layer behaviour shared by BCA and CDD: per-adapter parameters, sum, merge, unmerge, disable.

    A subclass stores its adapters' parameters in the containers named by ``adapter_layer_names`` (keyed by
    adapter name) and implements ``update_layer``, ``get_delta_weight``, ``add_adapter_output`` and
    ``fused_forward``.
    """

    other_param_names = ("block_size",)

    def __init__(self, base_layer: nn.Module) -> None:
        self.base_layer = base_layer
        self.block_size: dict[str, int] = {}
        self._disable_adapters = False
        self.merged_adapters = []
        linear = linear_of(base_layer)
        if linear is None:
            raise TypeError(f"{type(self).__name__} wraps nn.Linear only, got {type(base_layer).__name__}")
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def _new_param(self, *shape: int) -> nn.Parameter:
        return nn.Parameter(torch.zeros(*shape, dtype=torch.float32, device=self.get_base_layer().weight.device))

    def _adapters(self) -> dict:
        return getattr(self, self.adapter_layer_names[0])

    def active_here(self) -> list[str]:
        return [a for a in self.active_adapters if a in self._adapters()]

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        """Dense Delta W of one adapter (d_out x d_in, fp32); O(d_out * d_in): merge and tests, never forward."""
        raise NotImplementedError

    def add_adapter_output(self, out: torch.Tensor, x: torch.Tensor, adapter: str) -> torch.Tensor:
        """``out + Delta W_adapter x``, in place on ``out`` (it is not saved by autograd)."""
        raise NotImplementedError

    def fused_forward(self, x: torch.Tensor, adapter: str) -> torch.Tensor | None:
        """The base layer and one adapter in one kernel, or None where the subclass has no such kernel."""
        return None

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

    def circulant_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """The tuner layer's forward (the ``nn.Module`` subclass calls it: ``nn.Module.forward`` comes first in
        its MRO)."""
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        if self.merged:
            return self.base_layer(x, *args, **kwargs)
        active = self.active_here()
        if len(active) == 1 and not args and not kwargs and self.can_fuse(x):
            fused = self.fused_forward(x, active[0])
            if fused is not None:
                return fused
        out = self.base_layer(x, *args, **kwargs)
        for adapter in active:  # summed: each adapter sees the layer input, not the previous adapter's output
            out = self.add_adapter_output(out, x, adapter)
        return out

    @torch.no_grad()
    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        """Add the adapters' Delta W into the base weight so forward costs one matmul (inference)."""
        for adapter in check_adapters_to_merge(self, adapter_names):
            if adapter not in self._adapters():
                continue
            weight = self.get_base_layer().weight
            delta = self.get_delta_weight(adapter).to(weight.dtype)
            if safe_merge and not torch.isfinite(weight + delta).all():
                raise ValueError(f"NaNs or infs in the merged weights: adapter {adapter!r} seems to be broken")
            weight += delta
            self.merged_adapters.append(adapter)

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract Delta W again (exact up to rounding in the base dtype: lossy for bf16 weights)."""
        if not self.merged:
            warnings.warn("Already unmerged. Nothing to do.", stacklevel=2)
            return
        while self.merged_adapters:
            adapter = self.merged_adapters.pop()
            if adapter in self._adapters():
                weight = self.get_base_layer().weight
                weight -= self.get_delta_weight(adapter).to(weight.dtype)

    def circulant_extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, block_size={self.block_size}"


class CirculantTuner(BaseTuner):
    """peft tuner for a ``CirculantLayer``: check every matched layer up front, then wrap or extend each one.

    Subclasses set ``prefix``, ``tuner_layer_cls`` and ``linear_cls`` (the ``nn.Linear`` wrapper).
    """

    target_module_mapping = TRANSFORMERS_MODELS_TO_C3A_TARGET_MODULES_MAPPING  # peft's defaults per architecture
    linear_cls: type

    def _prepare_model(self, peft_config: CirculantConfig, model: nn.Module) -> None:
        # Called by peft on every injection (get_peft_model, add_adapter, from_pretrained) before any module is
        # replaced: a bad block size for one of 50 layers then leaves the model untouched, and names them all.
        problems = peft_config.layer_problems(model)
        if problems:
            kind = type(peft_config).__name__
            raise ValueError(f"{kind} cannot be applied to this model:\n" + "\n".join(f"  - {p}" for p in problems))

    def _create_and_replace(self, config, adapter_name, target, target_name, parent, current_key, **kwargs):
        linear = linear_of(target)
        block_size = config.layer_block_size(current_key, linear.in_features, linear.out_features)
        if isinstance(target, self.linear_cls):
            target.update_layer(adapter_name, block_size, config)
            return
        new_module = self.linear_cls(target, adapter_name, block_size, config)
        if adapter_name not in self.active_adapters:
            new_module.requires_grad_(False)  # an added adapter is not trainable until it is set active
        self._replace_module(parent, target_name, new_module, target)
