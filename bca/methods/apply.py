"""Putting a method on a model and splitting its trainable parameters into adapter and task head."""

from __future__ import annotations

from dataclasses import dataclass

from bca.methods.registry import get_method


def apply_method(model, cfg, head_modules=None):
    """``get_peft_model(model, <the method's peft config>)`` with the task head trainable as well.

    peft freezes everything but the adapter; the head (``model.head_modules``; None: ``bca.models.HEAD_MODULE_NAMES``)
    is unfrozen here and trained at ``method.head_lr``. Returns the ``PeftModel``.
    """
    import warnings

    from peft import get_peft_model

    from bca.models import head_parameter_names

    with warnings.catch_warnings():  # peft reads transformers' deprecated flag; nothing for our users to act on
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        model = get_peft_model(model, get_method(cfg).peft_config(cfg))
    heads = set(head_parameter_names(model, head_modules))
    for name, param in model.named_parameters():
        if name in heads:
            param.requires_grad_(True)
    return model


@dataclass
class ParamSplit:
    adapter: list
    head: list

    @property
    def adapter_count(self) -> int:
        return sum(p.numel() for _, p in self.adapter)

    @property
    def head_count(self) -> int:
        return sum(p.numel() for _, p in self.head)


def split_trainable(model, method, head_modules=None) -> ParamSplit:
    """Trainable parameters split into adapter and task head (what the papers count vs what they exclude).

    ``method``: the method config (a name is enough for registered methods)."""
    from bca.models import head_parameter_names

    markers = get_method(method).adapter_markers(method)
    heads = set(head_parameter_names(model, head_modules))
    adapter, head = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name in heads:
            head.append((name, param))
        elif any(m in name for m in markers):
            adapter.append((name, param))
        else:
            raise RuntimeError(f"trainable parameter {name!r} is neither adapter nor head: freezing is broken")
    return ParamSplit(adapter=adapter, head=head)


def optimizer_groups(model, cfg, weight_decay: float = 0.0, head_modules=None) -> list[dict]:
    """AdamW parameter groups: adapter at ``lr * lr_scale`` (BCA: /p), head at ``head_lr``."""
    split = split_trainable(model, cfg, head_modules)
    scale = get_method(cfg).lr_scale(cfg)
    groups = [
        {
            "name": "adapter",
            "params": [p for _, p in split.adapter],
            "lr": cfg.lr * scale,
            "weight_decay": weight_decay,
        },
        {"name": "head", "params": [p for _, p in split.head], "lr": cfg.head_lr, "weight_decay": weight_decay},
    ]
    return [g for g in groups if g["params"]]
