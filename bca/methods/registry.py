"""One registration per method: everything the suite knows about a method is in its ``Method`` entry below.

A ``Method`` carries the typed schema of ``method.*`` (Hydra rejects unknown keys and wrong types), the peft
config it builds, how its parameters are recognised, the factor on its learning rate, its analytic FLOP
formula (or ``None``: "not counted", which records and bca-count then say) and the settings that name a
table row. Its default values live in ``configs/method/<name>.yaml``. Every method runs through peft:
LoRA, VeRA, FourierFT and C3A are peft's own implementations (what readers trust); BCA and CDD are ours,
registered with peft by ``bca.adapters``.

A peft method without custom maths needs no Python at all: one ``configs/method/<name>.yaml`` naming the peft
config class and its fields (schema ``peft``, ``bca.methods.spec.config_only``; README "Adding a method").

Nothing here imports torch, peft or Hydra at module level: tables and schemas read this registry cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from bca.count import flops
from bca.methods.spec import Method, MethodConfig, config_only

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def _targets(cfg) -> list[str]:
    return list(cfg.target_modules)


# ---- LoRA (peft) --------------------------------------------------------------------------------------------


@dataclass
class LoraMethod(MethodConfig):
    r: int = 8
    alpha: int = 8
    dropout: float = 0.0


def _lora(cfg):
    from peft import LoraConfig

    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=_targets(cfg))


register(
    Method("lora", LoraMethod, _lora, markers=("lora_",), settings=("r",),
           flops=lambda cfg, i, o, g: flops.lora_cost(i, o, cfg.r, g))
)  # fmt: skip


# ---- VeRA (peft) --------------------------------------------------------------------------------------------


@dataclass
class VeraMethod(MethodConfig):
    r: int = 1024
    dropout: float = 0.0
    d_initial: float = 0.1
    projection_seed: int = 0


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


register(
    Method("vera", VeraMethod, _vera, markers=("vera_lambda",), settings=("r",),
           flops=lambda cfg, i, o, g: flops.vera_cost(i, o, cfg.r, g))
)  # fmt: skip


# ---- FourierFT (peft) ---------------------------------------------------------------------------------------


@dataclass
class FourierFTMethod(MethodConfig):
    n_frequency: int = 1000
    scaling: float = 150.0
    random_loc_seed: int = 777


def _fourierft(cfg):
    from peft import FourierFTConfig

    return FourierFTConfig(
        n_frequency=cfg.n_frequency,
        scaling=cfg.scaling,
        random_loc_seed=cfg.random_loc_seed,
        target_modules=_targets(cfg),
    )


register(
    Method("fourierft", FourierFTMethod, _fourierft, markers=("fourierft_",), settings=("n_frequency",),
           flops=lambda cfg, i, o, g: flops.fourierft_cost(i, o, g))
)  # fmt: skip


# ---- C3A (peft) ---------------------------------------------------------------------------------------------


@dataclass
class C3AMethod(MethodConfig):
    block_size: int = MISSING
    init: str = "xavier_uniform"


def _c3a(cfg):
    from peft import C3AConfig

    return C3AConfig(block_size=cfg.block_size, target_modules=_targets(cfg), init_weights=cfg.init)


register(
    Method("c3a", C3AMethod, _c3a, markers=("c3a_",), settings=("block_size",),
           flops=lambda cfg, i, o, g: flops.c3a_cost(i, o, cfg.block_size, g))
)  # fmt: skip


# ---- BCA (ours, bca.adapters.bca) ---------------------------------------------------------------------------


@dataclass
class BCAMethod(MethodConfig):
    block_size: int = MISSING
    init: str = "zero"
    divide_lr_by_block_size: bool = True  # the paper's stable-training heuristic: adapter lr / p


def _bca(cfg):
    from bca.adapters import BCAConfig

    return BCAConfig(
        target_modules=_targets(cfg),
        block_size=cfg.block_size,
        init=cfg.init,
        divide_lr_by_block_size=cfg.divide_lr_by_block_size,
    )


register(
    Method("bca", BCAMethod, _bca, markers=("bca_",), settings=("block_size",),
           lr_scale=lambda cfg: _bca(cfg).lr_scale,  # 1/p on BCAConfig (divide_lr_by_block_size)
           flops=lambda cfg, i, o, g: flops.bca_cost(i, o, cfg.block_size, g))
)  # fmt: skip


# ---- CDD (ours, bca.adapters.cdd) ---------------------------------------------------------------------------


@dataclass
class CDDMethod(MethodConfig):
    block_size: int | None = None  # None: the largest size dividing both dims of each layer
    num_factors: int = 1
    init: str = "zero"


def _cdd(cfg):
    from bca.adapters import CDDConfig

    return CDDConfig(
        target_modules=_targets(cfg), block_size=cfg.block_size, num_factors=cfg.num_factors, init=cfg.init
    )


def _cdd_cost(cfg, d_in: int, d_out: int, input_grad: bool) -> flops.LayerCost:
    p = _cdd(cfg).layer_block_size("", d_in, d_out)  # CDDConfig's rule for block_size=None, not a copy of it
    return flops.cdd_cost(d_in, d_out, p, cfg.num_factors, input_grad)


register(
    Method("cdd", CDDMethod, _cdd, markers=("cdd_",), settings=("block_size", "num_factors"), unset="gcd",
           label=lambda m: f"cdd b={m.get('block_size') or 'max'} m={m.get('num_factors', 1)}",
           flops=_cdd_cost)
)  # fmt: skip


# ---- lookups ------------------------------------------------------------------------------------------------


def get_method(method) -> Method:
    """The registration of a method config (or name); a config-only method is built from its config."""
    name = method if isinstance(method, str) else _get(method, "name")
    if name in METHODS:
        return METHODS[name]
    if not isinstance(method, str) and _get(method, "peft_config"):
        return config_only(method)
    raise ValueError(
        f"unknown method {name!r}; valid methods: {', '.join(sorted(METHODS))} "
        "(or a configs/method/<name>.yaml naming a peft config class)"
    )


def _get(cfg, key):
    return cfg.get(key) if isinstance(cfg, dict) else getattr(cfg, key, None)


def method_schemas() -> dict[str, type]:
    """Hydra schema per method (``schema/method/<name>``), plus ``peft`` for config-only methods."""
    from bca.methods.spec import PeftMethod

    return {**{name: m.schema for name, m in METHODS.items()}, "peft": PeftMethod}


def row_label(method: dict) -> str:
    """A table row label for a record's method config: "lora r=8", "cdd b=max m=1", a config-only "ia3"."""
    try:
        return get_method(method).row_label(method)
    except (ValueError, KeyError):  # a method this checkout does not know: its name is still a label
        return str(method.get("name"))


def settings_text(cfg) -> str:
    """The knobs that change counts, as a short label for bca-count ("r=8", "block_size=gcd, num_factors=1")."""
    return get_method(cfg).settings_text(cfg)


def layer_cost(method_cfg, d_in: int, d_out: int, input_grad: bool = True) -> flops.LayerCost:
    """Analytic cost of one Linear(d_in, d_out) adapted with ``method_cfg``; ``NotCounted`` if it has no formula."""
    return get_method(method_cfg).layer_cost(method_cfg, d_in, d_out, input_grad)


def config_problems(method_cfg) -> list[str]:
    """One line per reason the method's peft config cannot be built (unknown class or field, a value peft
    refuses), found before any model is loaded."""
    try:
        get_method(method_cfg).peft_config(method_cfg)
    except (ValueError, TypeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        return [message if message.startswith("method.") else f"method={_get(method_cfg, 'name')}: {message}"]
    return []
