"""Up-front semantic checks: find every problem of a run config in seconds, before any weight is loaded.

Types and unknown keys are already rejected by the schemas at composition. What is left needs the model's
shapes (block sizes, target modules: read off the architecture built on the meta device, no weights)
and the data (files present, hub reachable). All problems are collected and raised as one error, so a
sweep author fixes them in one go instead of one per 10-minute retry.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bca.adapters.base import matches_target, valid_block_sizes
from bca.config.schema import SCHEDULERS
from bca.config.value_checks import length_problems, path_problems, value_problems
from bca.models import DTYPES, ModelLoadError, build_meta_model, resolve_path


class ConfigProblems(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid run configuration:\n" + "\n".join(f"  - {p}" for p in problems))


matches = matches_target  # one matching rule for validation and injection (peft's)


def target_linears(model: torch.nn.Module, targets) -> dict[str, tuple[int, int]]:
    """{module name: (d_in, d_out)} for every nn.Linear the method would wrap."""
    return {
        name: (m.in_features, m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and matches(name, targets)
    }


def method_problems(model: torch.nn.Module, method_cfg) -> list[str]:
    from bca.methods import config_problems  # the method's own peft config: unknown fields, refused values

    problems = config_problems(method_cfg)
    if problems:
        return problems
    targets = list(method_cfg.target_modules)
    layers = target_linears(model, targets)
    if not layers:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        return [f"method.target_modules={targets} matches no Linear layer; Linear names here: {', '.join(names)}"]
    block = getattr(method_cfg, "block_size", None)
    if not isinstance(block, int) or block < 1:
        return []  # None: the method picks per layer; < 1 is reported by bca.config.value_checks
    bad = {n: s for n, s in layers.items() if s[0] % block or s[1] % block}
    shapes = sorted(set(bad.values()))
    return [
        f"method.block_size={block} does not divide layer {next(n for n, s in bad.items() if s == shape)} "
        f"(d_in={shape[0]}, d_out={shape[1]}; {sum(1 for s in bad.values() if s == shape)} such layers); "
        f"valid block sizes: {valid_block_sizes(*shape)}"
        for shape in shapes
    ]


def _looks_local(path: str) -> bool:
    """A filesystem path rather than a hub id (``org/name``): absolute, or starting with ``.`` or ``~``."""
    return path.startswith(("/", ".", "~")) or os.path.isabs(path)


def model_problems(model_cfg) -> list[str]:
    if model_cfg.source not in ("hub", "package", "random"):
        return []  # reported by bca.config.value_checks with the valid sources
    for key in ("path", "tokenizer"):
        value = getattr(model_cfg, key, None)
        if not value or value.startswith("pkg://") or (key == "path" and model_cfg.source == "random"):
            continue
        # a package model's path is always a folder; elsewhere a local-looking value (not a hub id) must exist
        local = _looks_local(value) or (key == "path" and model_cfg.source == "package")
        if local and not Path(value).expanduser().exists():
            return [
                f"model.{key}={value}: no such folder (a local model is a folder holding config.json and the "
                "weights; a hub id looks like org/name)"
            ]
    try:
        path = resolve_path(model_cfg.path or model_cfg.tokenizer or "")
        if model_cfg.tokenizer:
            resolve_path(model_cfg.tokenizer)
    except ModelLoadError as err:
        return [str(err)]
    if model_cfg.source == "hub" and os.environ.get("HF_HUB_OFFLINE") == "1" and not _available_offline(path):
        return [
            f"model={model_cfg.name} loads {path!r} from the Hugging Face hub, but HF_HUB_OFFLINE=1; "
            "use an offline model (minilm-l6, smollm2-135m, tiny-roberta, tiny-llama) or model.path=<local dir>"
        ]
    return []


def _available_offline(path: str) -> bool:
    """A local folder, or a hub id whose config is in the local Hugging Face cache (offline mode serves it)."""
    if Path(path).exists():
        return True
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(path, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def trainer_problems(trainer_cfg, world_size: int | None = None) -> list[str]:
    """Values the schema's types allow but training cannot use; ``world_size``: processes (accelerate launch)."""
    world_size = world_size or int(os.environ.get("WORLD_SIZE", "1"))
    problems = [
        f"trainer.{key}={getattr(trainer_cfg, key)} must be >= {low}"
        for key, low in (("batch_size", 1), ("eval_batch_size", 1), ("log_every", 1), ("epochs", 1))
        if getattr(trainer_cfg, key) < low and not (key == "epochs" and trainer_cfg.max_steps is not None)
    ]
    for key, low in (("checkpoint_every", 1), ("max_steps", 0)):
        if getattr(trainer_cfg, key) is not None and getattr(trainer_cfg, key) < low:
            problems.append(f"trainer.{key}={getattr(trainer_cfg, key)} must be >= {low} or null")
    if trainer_cfg.scheduler not in SCHEDULERS:
        problems.append(f"trainer.scheduler={trainer_cfg.scheduler!r} is not one of: {', '.join(SCHEDULERS)}")
    accum = trainer_cfg.grad_accum_steps
    if accum < 1:
        problems.append(f"trainer.grad_accum_steps={accum} must be >= 1")
    elif trainer_cfg.batch_size >= 1 and trainer_cfg.batch_size % (accum * world_size):
        # The step's batch is split into accum micro-batches, and each across the processes: both must divide.
        split = f"{accum} micro-batches" + (f" x {world_size} processes" if world_size > 1 else "")
        valid = range(accum * world_size, 4 * accum * world_size + 1, accum * world_size)
        problems.append(
            f"trainer.batch_size={trainer_cfg.batch_size} is the optimiser step's batch and must split evenly into "
            f"{split}: use a multiple of {accum * world_size} (e.g. {', '.join(map(str, valid))})"
        )
    if world_size > 1 and trainer_cfg.eval_batch_size % world_size:
        problems.append(
            f"trainer.eval_batch_size={trainer_cfg.eval_batch_size} is the global batch and must be a multiple of "
            f"the {world_size} processes"
        )
    return problems


_SHAPE_PROBLEMS: dict[str, list[str]] = {}
"""(model, method, num_labels) -> problems: a paper table checks 100s of cells over a few (model, method) pairs."""


def shape_problems(model_cfg, method_cfg, num_labels: int | None) -> list[str]:
    """Block sizes and target modules against the model's real shapes (built on the meta device, memoised)."""
    import json

    from omegaconf import OmegaConf

    def plain(node):
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else vars(node)

    key = json.dumps([plain(model_cfg), plain(method_cfg), num_labels], sort_keys=True, default=str)
    if key not in _SHAPE_PROBLEMS:
        try:
            meta = build_meta_model(model_cfg, num_labels=num_labels, causal=model_cfg.causal)
            _SHAPE_PROBLEMS[key] = method_problems(meta, method_cfg)
        except (ValueError, KeyError) as err:
            _SHAPE_PROBLEMS[key] = [f"model.arch cannot be built: {err}"]
    return list(_SHAPE_PROBLEMS[key])


def check_run(cfg, num_labels: int | None = 2) -> None:
    """Raise ``ConfigProblems`` listing everything wrong with the model/method/trainer part of ``cfg``, its
    values (ranges, choices, sequence length) and where it writes (``bca.config.value_checks``)."""
    problems = value_problems(cfg) + model_problems(cfg.model) + trainer_problems(cfg.trainer)
    problems += length_problems(cfg) + path_problems(cfg)
    if cfg.model.dtype in DTYPES:  # else reported above; building would only repeat it less clearly
        problems += shape_problems(cfg.model, cfg.method, num_labels)
    if problems:
        raise ConfigProblems(problems)
