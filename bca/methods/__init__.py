"""Methods: one registration per method (schema, peft config, parameter markers, lr scale, FLOP formula, label).

``registry`` holds the six built-in registrations and the lookups; ``spec`` what a registration is (and the
config-only peft methods); ``apply`` puts a method on a model and splits adapter from head parameters.
May import: ``bca.count.flops`` (the formulas), ``bca.adapters`` and ``bca.models`` (lazily, when a model is
built). Never the config, the runner, the report or Hydra (``bca.config`` imports this, not the other way).
"""

from bca.methods.apply import ParamSplit, apply_method, optimizer_groups, split_trainable
from bca.methods.registry import (
    METHODS,
    config_problems,
    get_method,
    layer_cost,
    method_schemas,
    register,
    row_label,
    settings_text,
)
from bca.methods.spec import ConfigOnlyMethod, Method, NotCounted, config_only

__all__ = [
    "METHODS", "ConfigOnlyMethod", "Method", "NotCounted", "ParamSplit", "apply_method", "config_only",
    "config_problems", "get_method", "layer_cost", "method_schemas", "optimizer_groups", "register", "row_label",
    "settings_text", "split_trainable",
]  # fmt: skip
