"""Trainable parameters and FLOPs of a model x method, counted on the meta device: no weights, no hub.

    bca-count model=roberta-base method=bca                      # p = d = 768
    bca-count model=llama2-7b method=lora method.r=64 trainer.batch_size=1 trainer.max_length=2048

Why meta: counts must be exact at the papers' sizes (RoBERTa-large, LLaMA2-7B) on a laptop. The
architecture is built from the ``arch`` values of the model config with shapes only, the method is
applied as in a run, and one forward + backward is traced on a batch of ``trainer.batch_size`` x
``trainer.max_length`` token ids (T = their product tokens per training step), all on meta tensors.

Two FLOP views per row (convention: ``bca.count.flops``):
- whole network, *measured*: ``bca.count.flop_counter`` (FlopCounterMode + FFT/complex formulas) over that
  forward and backward (``flops_fwd_per_token`` = forward / T, ``flops_train_step`` = forward + backward;
  no optimiser update, no recomputation from gradient checkpointing);
- the adapters alone, *analytic*: ``bca.count.flops.layer_cost`` summed over the adapted layers, with each
  layer's "does my input need a gradient" read off the traced forward (the first adapted layer above
  frozen embeddings needs none). ``analytic_matches_measured`` re-measures one layer of every shape in
  isolation, at full size on meta, and compares.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bca.count.flop_counter import count_flops, measure_module
from bca.count.flops import Cost
from bca.methods import apply_method, get_method, layer_cost, settings_text, split_trainable
from bca.models import HEAD_MODULE_NAMES, _auto_class, build_meta_model

COLUMNS = (
    "model", "method", "settings", "target_modules", "adapted_layers", "adapter_params", "head_params",
    "total_params", "batch_size", "seq_len", "tokens", "flops_fwd_per_token", "flops_train_step",
    "adapter_flops_fwd_per_token", "adapter_flops_fwd_per_call", "adapter_flops_train_step",
    "analytic_matches_measured",
)  # fmt: skip
"""CSV columns of ``bca-count`` (and of results/complexity.csv, which adds the published counts)."""

FLOP_KEYS = COLUMNS[COLUMNS.index("batch_size") :]
"""What a run record stores under ``flops`` (with ``adapter_flops``: "not counted ..." for a method without a
FLOP formula, whose adapter columns are then None)."""

REL_TOL = 1e-9  # FFT counts of non-powers of two are floats: compare up to rounding


def adapted_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every wrapped Linear: peft's tuner layers and ours all keep the frozen Linear as ``base_layer``."""
    return {n: m for n, m in model.named_modules() if isinstance(getattr(m, "base_layer", None), nn.Linear)}


def meta_twin(model: nn.Module, causal: bool) -> nn.Module:
    """The same architecture as a loaded transformers ``model`` (its own config), rebuilt on meta, no adapter."""
    with torch.device("meta"):
        return _auto_class(causal).from_config(copy.deepcopy(model.config))


@dataclass
class Trace:
    fwd: float
    bwd: float
    input_grad: dict[str, bool]
    """Per adapted layer: did its input require a gradient in the traced forward?"""


def trace(model: nn.Module, batch_size: int, seq_len: int) -> Trace:
    """Measured FLOPs of one forward and backward of ``model`` on a (batch_size, seq_len) batch of token ids.

    The backward seeds d(sum of outputs) = 1: the loss itself is elementwise (not counted), the gradient
    then flows exactly as in training.
    """
    seen: dict[str, bool] = {}

    def note(name: str, args: tuple) -> None:  # a pre-hook returning a value would replace the layer's input
        seen.setdefault(name, args[0].requires_grad)

    hooks = [
        layer.register_forward_pre_hook(lambda _m, args, name=name: note(name, args))
        for name, layer in adapted_layers(model).items()
    ]
    device = next(model.parameters()).device
    ids = torch.zeros(batch_size, seq_len, dtype=torch.long, device=device)
    try:
        logits = {}
        fwd = count_flops(lambda: logits.setdefault("y", model(input_ids=ids).logits))
        bwd = count_flops(lambda: logits["y"].float().sum().backward())
    finally:
        for hook in hooks:
            hook.remove()
    return Trace(fwd, bwd, seen)


def layers_match(model: nn.Module, method_cfg, tokens: int, input_grad: dict[str, bool]) -> bool:
    """Measure one adapted layer per (d_in, d_out, input grad) in isolation on meta and compare to the formula."""
    shapes = {}
    for name, layer in adapted_layers(model).items():
        base = layer.base_layer
        shapes.setdefault((base.in_features, base.out_features, input_grad[name]), layer)
    for (d_in, d_out, grad), layer in shapes.items():
        twin = copy.deepcopy(layer).to("meta")
        x = torch.empty(tokens, d_in, device="meta", requires_grad=grad)
        measured = measure_module(twin, x)
        cost = layer_cost(method_cfg, d_in, d_out, grad)
        for got, want in ((measured["fwd"], cost.fwd.at(tokens)), (measured["train"], cost.train.at(tokens))):
            if abs(got - want) > REL_TOL * max(abs(want), 1.0):
                return False
    return True


def count_model(model: nn.Module, method_cfg, batch_size: int, seq_len: int, head_modules=HEAD_MODULE_NAMES) -> dict:
    """Parameters and FLOPs of ``model`` (method already applied; best on meta) for batches of this shape.

    A method registered without a FLOP formula gets ``None`` adapter FLOPs and an ``adapter_flops`` note; the
    whole network is measured all the same."""
    split = split_trainable(model, method_cfg, head_modules)
    tokens = batch_size * seq_len
    traced = trace(model, batch_size, seq_len)
    row = {
        "adapted_layers": len(traced.input_grad),
        "adapter_params": split.adapter_count,
        "head_params": split.head_count,
        "total_params": sum(p.numel() for p in model.parameters()),
        "batch_size": batch_size,
        "seq_len": seq_len,
        "tokens": tokens,
        "flops_fwd_per_token": traced.fwd / tokens,
        "flops_train_step": traced.fwd + traced.bwd,
    }
    if get_method(method_cfg).flops is None:
        return (
            row
            | {k: None for k in FLOP_KEYS if k not in row}
            | {"adapter_flops": f"not counted: {method_cfg.name} has no FLOP formula in bca.methods"}
        )
    fwd = train = Cost()
    for name, layer in adapted_layers(model).items():
        cost = layer_cost(
            method_cfg, layer.base_layer.in_features, layer.base_layer.out_features, traced.input_grad[name]
        )
        fwd, train = fwd + cost.adapter_fwd, train + cost.adapter_train
    return row | {
        "adapter_flops_fwd_per_token": fwd.per_token,
        "adapter_flops_fwd_per_call": fwd.per_call,
        "adapter_flops_train_step": train.at(tokens),
        "analytic_matches_measured": layers_match(model, method_cfg, tokens, traced.input_grad),
    }


def count(cfg) -> dict:
    """One table row for a composed run config: its model built on meta, its method, its trainer's batch shape."""
    num_labels = None if cfg.model.causal else (cfg.task.num_labels or 2)
    model = build_meta_model(cfg.model, num_labels=num_labels, causal=cfg.model.causal)
    model = apply_method(model, cfg.method, cfg.model.head_modules)
    row = {
        "model": cfg.model.name,
        "method": cfg.method.name,
        "settings": settings_text(cfg.method),
        "target_modules": "+".join(cfg.method.target_modules),
    }
    return row | count_model(model, cfg.method, cfg.trainer.batch_size, sequence_length(cfg), cfg.model.head_modules)


def sequence_length(cfg) -> int:
    """Tokens per example a run actually uses: instruction tasks set their own (longer) ``task.max_length``."""
    return getattr(cfg.task, "max_length", None) or cfg.trainer.max_length


def record_counts(model: nn.Module, cfg) -> dict:
    """``record["flops"]`` of a run: the counts for its model/method at its trainer's batch shape.

    Counted on a meta twin of the loaded model (its own config), so the real one and the random state are
    untouched. Counting must never cost a training run: a failure is recorded as ``{"error": ...}`` instead of raised.
    """
    try:
        with torch.random.fork_rng(devices=[]):  # leave the run's random stream exactly as it was
            twin = apply_method(meta_twin(model, cfg.model.causal), cfg.method, cfg.model.head_modules)
            row = count_model(twin, cfg.method, cfg.trainer.batch_size, sequence_length(cfg), cfg.model.head_modules)
    except Exception as err:  # noqa: BLE001 - reported in the record, the run goes on
        return {"error": f"{type(err).__name__}: {err}"}
    return {k: row[k] for k in (*FLOP_KEYS, "adapter_flops") if k in row}


# ---- printing and CSV -----------------------------------------------------------------------------------


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def append_csv(path: Path, rows: list[dict], columns=COLUMNS) -> None:
    """Append rows; write the header on a new file, refuse a file whose header differs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(columns):
            raise ValueError(f"{path} has other columns ({', '.join(header)}); pass another --csv path")
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)
