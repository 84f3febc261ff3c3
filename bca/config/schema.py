"""Typed schemas for every config group: unknown keys and wrong types fail at composition, before any work.

Plain dataclasses (no Hydra import): ``bca.config.hydra_app`` registers them in Hydra's ConfigStore and each
YAML in ``configs/`` names its schema in its defaults list. Method knobs live on per-method schemas (base:
``bca.methods.spec.MethodConfig``), registered with each method in ``bca.methods``, so ``method.block_size=64``
is rejected for LoRA instead of silently ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from omegaconf import II, MISSING

from bca.methods.spec import MethodConfig
from bca.tasks.config import TaskConfig


@dataclass
class ModelConfig:
    name: str = MISSING
    source: str = "hub"  # hub | package | random
    path: str | None = None  # hub id, local dir, or pkg://<package>/<dir>
    tokenizer: str | None = None  # defaults to path; random models borrow a packaged tokenizer
    gguf_file: str | None = None
    dtype: str = "float32"  # float32 | bfloat16 | float16
    causal: bool = False  # decoder (causal LM) vs encoder (sequence classifier)
    gradient_checkpointing: bool = False
    hidden_size: int = MISSING  # the model width d
    # default C3A/BCA block size (p = d): must tile every target layer, so GQA models with a d -> d/k v_proj
    # (SmolLM2: 576 -> 192) set the largest size dividing all of them
    block_size: int = II(".hidden_size")
    target_modules: list[str] = field(default_factory=lambda: ["query", "value"])
    # the task head trained at method.head_lr (module names): RoBERTa's classifier (dense + out_proj) or a
    # decoder's score; BERT-family encoders add their pooler (see bca.models.HEAD_MODULE_NAMES)
    head_modules: list[str] = field(default_factory=lambda: ["classifier", "score"])
    arch: dict[str, Any] = field(default_factory=dict)  # architecture values: build on meta without the hub


SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}
"""trainer.scheduler -> transformers' name; every one warms up linearly over ``warmup_ratio`` of the steps."""


@dataclass
class TrainerConfig:
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 64
    max_length: int = 128
    warmup_ratio: float = 0.06
    scheduler: str = "linear"  # linear | cosine | constant (after the linear warmup)
    grad_accum_steps: int = 1  # batch_size is still the optimiser step's batch, taken in this many micro-batches
    weight_decay: float = 0.0
    # length-bucketed shuffled batches for classification tasks (instruction tasks always bucket); off by
    # default: the papers train on plain random batches, and bucketing changes which rows share a batch
    group_by_length: bool = False
    max_grad_norm: float | None = None  # None: no clipping (the norm is still logged)
    seed: int = 0
    max_steps: int | None = None  # stop after this many optimiser steps in total (quick runs); 0: evaluate only
    mixed_precision: str = "no"  # accelerate: no | fp16 | bf16
    log_every: int = 10  # steps between loss/lr/grad-norm logs
    checkpoint_every: int | None = None  # steps between mid-epoch checkpoints (epochs always checkpoint)
    progress: bool = True  # tqdm bars


@dataclass
class LoggerConfig:
    mode: str = "offline"  # offline | online | disabled (wandb modes)
    project: str = "bca"
    dir: str = "${results_dir}"  # wandb writes <dir>/wandb/


def logger_enabled(logger_cfg) -> bool:
    """False for ``logger=disabled`` and when the environment turns wandb off (``WANDB_MODE=disabled``, or
    ``WANDB_DISABLED=true``, wandb's own switches): a user who disabled wandb there expects no wandb run and no
    ``wandb/`` folder, whatever the config's default logger says."""
    env_off = os.environ.get("WANDB_MODE", "").lower() == "disabled" or os.environ.get(
        "WANDB_DISABLED", ""
    ).lower() in ("true", "1", "yes")
    return logger_cfg.mode != "disabled" and not env_off


@dataclass
class RunConfig:
    model: ModelConfig = MISSING
    method: MethodConfig = MISSING
    task: TaskConfig = MISSING
    trainer: TrainerConfig = MISSING
    logger: LoggerConfig = MISSING
    results_dir: str = "runs"
    experiment: str = "default"  # wandb group; tables group records by it
    tags: list[str] = field(default_factory=list)
