"""Register BCA and CDD with peft: then get_peft_model, save_pretrained and PeftModel.from_pretrained know them.

peft 0.21's ``register_peft_method`` only accepts names of its own ``PeftType`` enum, which has no BCA or CDD.
A config whose ``peft_type`` is a plain string works everywhere peft looks a method up (peft allows str peft
types since huggingface/peft#2635), provided the three tables that ``register_peft_method`` fills hold it:
config class, tuner class and parameter prefix. ``tests/test_peft_registration.py`` checks every entry point
(save, load, merge), so a peft upgrade that changes this fails loudly instead of silently.
"""

from __future__ import annotations


def register(peft_type: str, config_cls: type, model_cls: type) -> None:
    """Fill peft's method tables for ``peft_type`` (idempotent); refuse to shadow a method peft already has."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING

    prefix = model_cls.prefix
    entries = ((PEFT_TYPE_TO_CONFIG_MAPPING, config_cls), (PEFT_TYPE_TO_TUNER_MAPPING, model_cls),
               (PEFT_TYPE_TO_PREFIX_MAPPING, prefix))  # fmt: skip
    for table, value in entries:
        existing = table.get(peft_type)
        ours = existing == value or getattr(existing, "__module__", "").startswith("bca.")  # e.g. a reloaded module
        if existing is not None and not ours:
            raise RuntimeError(
                f"peft already has a method {peft_type!r} ({existing!r}): bca's {config_cls.__name__} would "
                "shadow it. Pin peft<0.22 (pyproject.toml) or give bca's method another peft_type."
            )
    clash = [t for t, p in PEFT_TYPE_TO_PREFIX_MAPPING.items() if p == prefix and t != peft_type]
    if clash:
        raise RuntimeError(f"peft method {clash[0]!r} already uses the parameter prefix {prefix!r}")
    for table, value in entries:
        table[peft_type] = value


def register_all() -> None:
    from bca.adapters.bca import PEFT_TYPE as BCA
    from bca.adapters.bca import BCAConfig, BCAModel
    from bca.adapters.cdd import PEFT_TYPE as CDD
    from bca.adapters.cdd import CDDConfig, CDDModel

    register(BCA, BCAConfig, BCAModel)
    register(CDD, CDDConfig, CDDModel)
