"""One registry: method name -> how to put it on a model, and how to split its parameters for the optimiser.

Baselines are peft's own implementations (what readers trust); BCA and CDD are ours (``bca.adapters``).
Adding a method = one ``MethodSpec`` here (or in its own module, registered with ``register``) and one
``configs/method/<name>.yaml``. The functions take plain attribute objects (a DictConfig or a dataclass);
nothing here imports Hydra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from bca.models import HEAD_MODULE_NAMES, head_parameter_names


@dataclass(frozen=True)
class MethodSpec:
    name: str
    apply: Callable[[torch.nn.Module, object], torch.nn.Module]
    """Wrap the target Linears of the model in place and freeze everything that is not the adapter."""
    adapter_markers: tuple[str, ...]
    """Substrings of parameter names that belong to the adapter (counted as adapter, trained with method.lr)."""
    lr_scale: Callable[[object], float] = lambda cfg: 1.0
    """Factor on method.lr for the adapter parameters (BCA's stable-training heuristic: 1/p)."""


METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    METHODS[spec.name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]


def _targets(cfg) -> list[str]:
    return list(cfg.target_modules)


def _peft(config_factory):
    """Adapt a peft config factory into an ``apply``: inject peft's layers without wrapping the model class."""

    def apply(model, cfg):
        from peft import inject_adapter_in_model

        return inject_adapter_in_model(config_factory(cfg), model)

    return apply


def _peft_shared(config_factory):
    """Like ``_peft`` for methods whose layers share state kept on peft's tuner (VeRA's random A/B).

    ``inject_adapter_in_model`` refuses those, so go through ``get_peft_model`` and hand back the inner
    model: each layer holds references to the shared buffers, so the tuner wrapper is not needed to run.
    """

    def apply(model, cfg):
        from peft import get_peft_model

        return get_peft_model(model, config_factory(cfg)).base_model.model

    return apply


def _lora(cfg):
    from peft import LoraConfig

    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=_targets(cfg))


def _vera(cfg):
    from peft import VeraConfig

    return VeraConfig(
        r=cfg.r,
        target_modules=_targets(cfg),
        vera_dropout=cfg.dropout,
        d_initial=cfg.d_initial,
        projection_prng_key=cfg.projection_seed,
        save_projection=True,
    )


def _fourierft(cfg):
    from peft import FourierFTConfig

    return FourierFTConfig(
        n_frequency=cfg.n_frequency,
        scaling=cfg.scaling,
        random_loc_seed=cfg.random_loc_seed,
        target_modules=_targets(cfg),
    )


def _c3a(cfg):
    from peft import C3AConfig

    return C3AConfig(block_size=cfg.block_size, target_modules=_targets(cfg), init_weights=cfg.init)


def _ours(config_cls_path: str, fields: tuple[str, ...]):
    """Apply one of our adapters (imported lazily so ``bca.methods`` stays light)."""

    def apply(model, cfg):
        import importlib

        from bca.adapters.inject import apply_adapter

        module_name, cls_name = config_cls_path.rsplit(".", 1)
        config_cls = getattr(importlib.import_module(module_name), cls_name)
        kwargs = {f: getattr(cfg, f) for f in fields}
        return apply_adapter(model, config_cls(target_modules=_targets(cfg), **kwargs))

    return apply


register(MethodSpec("lora", _peft(_lora), ("lora_",)))
register(MethodSpec("vera", _peft_shared(_vera), ("vera_lambda",)))
register(MethodSpec("fourierft", _peft(_fourierft), ("fourierft_",)))
register(MethodSpec("c3a", _peft(_c3a), ("c3a_",)))
register(
    MethodSpec(
        "bca",
        _ours("bca.adapters.bca.BCAConfig", ("block_size", "init", "divide_lr_by_block_size")),
        ("bca_",),
        # Paper's heuristic: a circulant entry's gradient sums p dense-gradient entries, so divide its lr by p.
        lr_scale=lambda cfg: 1.0 / cfg.block_size if cfg.divide_lr_by_block_size else 1.0,
    )
)
register(MethodSpec("cdd", _ours("bca.adapters.cdd.CDDConfig", ("block_size", "num_factors", "init")), ("cdd_",)))


def apply_method(model: torch.nn.Module, cfg, head_modules=HEAD_MODULE_NAMES) -> torch.nn.Module:
    """Put method ``cfg.name`` on ``model``; adapter and head (``model.head_modules``) trainable, the rest frozen."""
    spec = get_method(cfg.name)
    model = spec.apply(model, cfg)
    heads = set(head_parameter_names(model, head_modules))
    for name, param in model.named_parameters():
        is_adapter = any(m in name for m in spec.adapter_markers)
        param.requires_grad = is_adapter or name in heads
    return model


@dataclass
class ParamSplit:
    adapter: list[tuple[str, torch.nn.Parameter]]
    head: list[tuple[str, torch.nn.Parameter]]

    @property
    def adapter_count(self) -> int:
        return sum(p.numel() for _, p in self.adapter)

    @property
    def head_count(self) -> int:
        return sum(p.numel() for _, p in self.head)


def split_trainable(model: torch.nn.Module, method_name: str, head_modules=HEAD_MODULE_NAMES) -> ParamSplit:
    """Trainable parameters split into adapter and task head (what the papers count vs what they exclude)."""
    spec = get_method(method_name)
    heads = set(head_parameter_names(model, head_modules))
    adapter, head = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name in heads:
            head.append((name, param))
        elif any(m in name for m in spec.adapter_markers):
            adapter.append((name, param))
        else:
            raise RuntimeError(f"trainable parameter {name!r} is neither adapter nor head: freezing is broken")
    return ParamSplit(adapter=adapter, head=head)


def optimizer_groups(
    model: torch.nn.Module, cfg, weight_decay: float = 0.0, head_modules=HEAD_MODULE_NAMES
) -> list[dict]:
    """AdamW parameter groups: adapter at ``lr * lr_scale`` (BCA: /p), head at ``head_lr``."""
    split = split_trainable(model, cfg.name, head_modules)
    scale = get_method(cfg.name).lr_scale(cfg)
    groups = [
        {
            "name": "adapter",
            "params": [p for _, p in split.adapter],
            "lr": cfg.lr * scale,
            "weight_decay": weight_decay,
        },
        {
            "name": "head",
            "params": [p for _, p in split.head],
            "lr": cfg.head_lr,
            "weight_decay": weight_decay,
        },
    ]
    return [g for g in groups if g["params"]]
