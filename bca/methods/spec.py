"""What a method registration is (``Method``), and the config-only methods built from a yaml file alone.

A config-only method is any peft method without custom maths (IA3, BOFT, LoHa, ...). Its
``configs/method/<name>.yaml`` uses the ``peft`` schema and names the peft config class and its fields:

    defaults: [/schema/method/peft@_here_, _self_]
    name: ia3
    peft_config: IA3Config            # a class of peft, or "package.module:Class"
    target_modules: ${model.target_modules}
    fields: {feedforward_modules: []} # passed to IA3Config as they are; checked against its fields up front
    lr: 1.0e-2
    head_lr: 4.0e-3

Its parameters are recognised by peft's own prefix for the method (``ia3_``), its lr is not scaled, and its
adapter FLOPs are "not counted" (the record and bca-count say so; the whole network is still measured).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, OmegaConf


@dataclass
class MethodConfig:
    name: str = MISSING
    target_modules: list[str] = MISSING
    lr: float = MISSING  # adapter learning rate (before any method-specific scale)
    head_lr: float = MISSING  # classifier head learning rate (ignored for causal LMs)


class NotCounted(ValueError):
    """A method without an analytic FLOP formula: its adapter FLOPs are reported as not counted."""


def _one(cfg) -> float:
    return 1.0


@dataclass(frozen=True)
class Method:
    name: str
    schema: type
    """Typed schema of ``method.*`` (a ``MethodConfig`` subclass), registered as Hydra's ``schema/method/<name>``."""
    peft_config: Callable[[Any], Any]
    """method config -> the peft config that ``get_peft_model`` puts on the model."""
    markers: tuple[str, ...] = ()
    """Substrings of parameter names that belong to the adapter (counted as adapter, trained at method.lr)."""
    settings: tuple[str, ...] = ()
    """Method keys that define a table row and change counts (``r`` for LoRA, ``block_size`` for BCA)."""
    lr_scale: Callable[[Any], float] = _one
    """Factor on method.lr for the adapter parameters (BCA: ``BCAConfig.lr_scale``, the paper's 1/p)."""
    flops: Callable | None = None
    """``(cfg, d_in, d_out, input_grad) -> bca.count.flops.LayerCost`` of one adapted Linear; None: not counted."""
    label: Callable[[Mapping], str] | None = None
    """Row label of a record's method config; default: the name and the settings ("lora r=8")."""
    unset: str = "auto"
    """How a setting left at None reads in bca-count (CDD's block_size=None is "gcd")."""

    def adapter_markers(self, cfg) -> tuple[str, ...]:
        return self.markers

    def row_label(self, method: Mapping) -> str:
        if self.label is not None:
            return self.label(method)
        return " ".join([self.name, *(f"{k}={_value(method, k)}" for k in self.settings)])

    def settings_text(self, cfg) -> str:
        values = {k: _value(cfg, k) for k in self.settings}
        return ", ".join(f"{k}={self.unset if v is None else v}" for k, v in values.items())

    def layer_cost(self, cfg, d_in: int, d_out: int, input_grad: bool = True):
        if self.flops is None:
            raise NotCounted(f"no FLOP formula for method {self.name!r}: adapter FLOPs not counted")
        return self.flops(cfg, d_in, d_out, input_grad)


def _value(cfg, key):
    if isinstance(cfg, Mapping) or OmegaConf.is_config(cfg):
        return cfg.get(key, _fields(cfg).get(key))
    return getattr(cfg, key, _fields(cfg).get(key))


def _fields(cfg) -> dict:
    found = cfg.get("fields") if isinstance(cfg, Mapping) or OmegaConf.is_config(cfg) else getattr(cfg, "fields", None)
    return dict(found or {})


# ---- config-only methods --------------------------------------------------------------------------------------


@dataclass
class PeftMethod(MethodConfig):
    """Schema of a config-only method (``schema/method/peft``)."""

    peft_config: str = MISSING  # a peft config class: "IA3Config" (from peft) or "package.module:Class"
    fields: dict[str, Any] = field(default_factory=dict)  # its fields, as the class names them
    settings: list[str] = field(default_factory=list)  # fields that name a table row ("ia3" alone if empty)


def peft_config_class(name: str) -> type:
    """``IA3Config`` -> peft.IA3Config; ``package.module:Class`` -> that class. A clear error otherwise."""
    import peft

    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"method.peft_config={name!r} cannot be imported: {err}") from None
    else:
        cls = getattr(peft, name, None)
        if cls is None:
            known = sorted(n for n in dir(peft) if n.endswith("Config") and n != "PeftConfig")
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(
                f"method.peft_config={name!r} is not a config class of peft{hint} (peft has: {', '.join(known)})"
            )
    if not (isinstance(cls, type) and issubclass(cls, peft.PeftConfig)):
        raise ValueError(f"method.peft_config={name!r} is not a peft config class (a PeftConfig subclass)")
    return cls


@dataclass(frozen=True)
class ConfigOnlyMethod(Method):
    """A peft method registered by its yaml alone; see the module docstring."""

    def adapter_markers(self, cfg) -> tuple[str, ...]:
        from peft.mapping import PEFT_TYPE_TO_PREFIX_MAPPING

        return (PEFT_TYPE_TO_PREFIX_MAPPING[self.peft_config(cfg).peft_type],)


def _build(cfg):
    cls = peft_config_class(_value(cfg, "peft_config"))
    kwargs = _fields(cfg)
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(
            f"method.fields.{unknown[0]}: {cls.__name__} has no field {unknown[0]!r}{hint} "
            f"(its fields: {', '.join(sorted(valid - {'peft_type', 'peft_version', 'auto_mapping'}))})"
        )
    return cls(target_modules=list(_value(cfg, "target_modules")), **kwargs)


def config_only(cfg) -> ConfigOnlyMethod:
    """The registration of a config-only method, from its composed method config."""
    name = _value(cfg, "name")
    return ConfigOnlyMethod(name, PeftMethod, _build, settings=tuple(_value(cfg, "settings") or ()))
