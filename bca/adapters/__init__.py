"""Our adapters (BCA, CDD) as drop-in wrappers of ``nn.Linear`` with a peft-like API."""

from bca.adapters.base import AdapterLinear, valid_block_sizes
from bca.adapters.bca import BCAConfig, BCALinear
from bca.adapters.cdd import CDDConfig, CDDLinear
from bca.adapters.inject import adapter_layers, apply_adapter, merge_adapter, unmerge_adapter
from bca.adapters.io import load_adapter, save_adapter

__all__ = [
    "AdapterLinear",
    "BCAConfig",
    "BCALinear",
    "CDDConfig",
    "CDDLinear",
    "adapter_layers",
    "apply_adapter",
    "load_adapter",
    "merge_adapter",
    "save_adapter",
    "unmerge_adapter",
    "valid_block_sizes",
]
