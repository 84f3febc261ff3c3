"""Save and load an adapter: its parameters as safetensors, its config as JSON (peft's file names).

Only the adapter is written (a few KB for BCA at p = d), never the frozen base model; loading rebuilds the
adapter from the JSON on a fresh base model and copies the tensors bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bca.adapters.inject import CONFIGS, adapter_config, adapter_layers, adapter_state_dict, apply_adapter

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"


def save_adapter(model: nn.Module, directory: str | Path) -> Path:
    """Write ``adapter_model.safetensors`` and ``adapter_config.json`` into ``directory``; return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = adapter_config(model)
    if any(layer.merged for layer in adapter_layers(model).values()):
        raise ValueError("unmerge the adapter before saving it (merged weights live in the base model)")
    tensors = {name: p.detach().cpu().contiguous() for name, p in adapter_state_dict(model).items()}
    save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    payload = {"adapter_type": config.adapter_type, **dataclasses.asdict(config)}
    (directory / CONFIG_NAME).write_text(json.dumps(payload, indent=2) + "\n")
    return directory


def load_config(directory: str | Path):
    payload = json.loads((Path(directory) / CONFIG_NAME).read_text())
    kind = payload.pop("adapter_type", None)
    if kind not in CONFIGS:
        raise ValueError(f"{CONFIG_NAME} has adapter_type={kind!r}; known adapter types: {sorted(CONFIGS)}")
    return CONFIGS[kind](**payload)


@torch.no_grad()
def load_adapter(model: nn.Module, directory: str | Path) -> nn.Module:
    """Apply the saved adapter to ``model`` (a base model without adapters) and load its tensors exactly."""
    model = apply_adapter(model, load_config(directory))
    params = adapter_state_dict(model)
    tensors = load_file(str(Path(directory) / WEIGHTS_NAME))
    missing, unexpected = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or unexpected:
        raise ValueError(f"adapter weights do not fit this model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, param in params.items():
        if tensors[name].shape != param.shape:
            raise ValueError(f"{name}: saved shape {tuple(tensors[name].shape)} != model's {tuple(param.shape)}")
        param.copy_(tensors[name])
    return model
