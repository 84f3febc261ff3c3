"""Put our adapters on a model: find the target Linears, check them all, wrap them, freeze everything else.

peft-like, without a model wrapper class: ``apply_adapter(model, config)`` edits the model in place and
returns it, so the runner treats our methods exactly like peft's ``inject_adapter_in_model``.
"""

from __future__ import annotations

from torch import nn

from bca.adapters.base import AdapterLinear, matches_target
from bca.adapters.bca import BCAConfig
from bca.adapters.cdd import CDDConfig

CONFIGS = {cls.adapter_type: cls for cls in (BCAConfig, CDDConfig)}
"""adapter_type -> config class (what ``load_adapter`` rebuilds from the saved JSON)."""

CONFIG_ATTR = "_bca_adapter_config"
"""Where ``apply_adapter`` leaves the config on the model (read back by ``save_adapter``)."""


def find_targets(model: nn.Module, targets) -> dict[str, nn.Linear]:
    """{module name: Linear} for every ``nn.Linear`` whose name matches one of ``targets`` (peft's rule)."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and matches_target(name, targets)
    }


def adapter_layers(model: nn.Module) -> dict[str, AdapterLinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, AdapterLinear)}


def _check_targets(model: nn.Module, config, layers: dict[str, nn.Linear]) -> None:
    """One error listing every problem (a sweep author fixes them in one go, not one per retry)."""
    if adapter_layers(model):
        raise ValueError("the model already has adapter layers; apply_adapter puts one adapter on a clean model")
    if not layers:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
        raise ValueError(
            f"target_modules={config.target_modules} matches no nn.Linear; Linear names here: {', '.join(names)}"
        )
    problems = []
    for name, layer in layers.items():
        try:
            config.check_layer(name, layer)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise ValueError(
            f"{config.adapter_type} cannot be applied to {len(problems)} of {len(layers)} target layers:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def apply_adapter(model: nn.Module, config) -> nn.Module:
    """Wrap every target Linear of ``model`` in the adapter ``config`` describes (in place); freeze the rest.

    Only the adapter parameters (named ``<prefix>*``: ``bca_kernel``, ``cdd_kernels.0``, ...) stay
    trainable; callers unfreeze whatever else they train (the runner: the classifier head).
    """
    layers = find_targets(model, config.target_modules)
    _check_targets(model, config, layers)
    model.requires_grad_(False)
    for name, layer in layers.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        wrapped = config.wrap(layer)
        for _, param in wrapped.adapter_named_parameters():
            param.requires_grad_(True)
        setattr(parent, child, wrapped)
    setattr(model, CONFIG_ATTR, config)
    return model


def adapter_config(model: nn.Module):
    config = getattr(model, CONFIG_ATTR, None)
    if config is None:
        raise ValueError("the model has no adapter from bca.adapters (call apply_adapter first)")
    return config


def adapter_state_dict(model: nn.Module) -> dict:
    """Adapter parameters only, keyed by their full names in ``model`` (what ``save_adapter`` writes)."""
    return {
        f"{layer_name}.{name}": param
        for layer_name, layer in adapter_layers(model).items()
        for name, param in layer.adapter_named_parameters()
    }


def merge_adapter(model: nn.Module) -> nn.Module:
    """Fold every layer's Delta W into its base weight (inference at the base model's cost)."""
    for layer in adapter_layers(model).values():
        layer.merge()
    return model


def unmerge_adapter(model: nn.Module) -> nn.Module:
    for layer in adapter_layers(model).values():
        layer.unmerge()
    return model
