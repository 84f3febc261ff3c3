"""Training-step benchmarks of ``make gpu-check``: tokens/s and peak memory per method on whole models.

- a random-initialised RoBERTa-base classifier (configs/model/roberta-base.yaml's ``arch``), batch 32 x 128,
  fp32 weights under bf16 autocast, query + value adapted (the GLUE tables' setting);
- a LLaMA-architecture stack at LLaMA2-7B's layer width (configs/model/llama2-7b.yaml's ``arch`` with a few
  decoder layers), bf16 weights, batch 8 x 512, q_proj + v_proj adapted.

Each method is put on the model as the runner puts it (``bca.methods.apply_method``, its default config,
``method.block_size`` overridden where named) and trained by AdamW with its own parameter groups. One step
= forward, backward, optimiser step, zero_grad on the same random batch. Random weights: no hub, no data.
Without CUDA the same code runs on tiny-roberta / tiny-llama at a few tokens.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from benchdevice import peak_memory_on, spread, time_rounds_on
from omegaconf import OmegaConf
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from bca.config.hydra_app import compose
from bca.methods import apply_method, optimizer_groups, split_trainable
from bca.models import head_parameter_names


@dataclass
class StepCase:
    name: str
    model: str  # configs/model/<model>.yaml
    causal: bool
    batch: int
    seq: int
    dtype: torch.dtype  # weights
    autocast: torch.dtype | None
    methods: list[tuple[str, list[str]]]  # (label, overrides)
    extra: list[str]  # model overrides (e.g. fewer layers)


def cases(on_gpu: bool) -> list[StepCase]:
    encoder_methods = [
        ("head only", []),
        ("LoRA r=8", ["method=lora"]),
        ("VeRA", ["method=vera"]),
        ("FourierFT n=1000", ["method=fourierft"]),
        ("C3A b=d", ["method=c3a"]),
        ("BCA p=d", ["method=bca"]),
        ("CDD", ["method=cdd"]),
    ]
    if not on_gpu:  # FourierFT's 1000 frequencies do not fit tiny-llama's 32 x 16 v_proj
        fourier = ("FourierFT n=256", ["method=fourierft", "method.n_frequency=256"])
        tiny = [fourier if label.startswith("FourierFT") else (label, o) for label, o in encoder_methods]
        return [
            StepCase("tiny-roberta (CPU)", "tiny-roberta", False, 4, 16, torch.float32, torch.bfloat16, tiny, []),
            StepCase("tiny-llama (CPU)", "tiny-llama", True, 2, 16, torch.bfloat16, None, tiny[1:], []),
        ]
    decoder_methods = [
        *encoder_methods[1:],
        ("C3A b=128", ["method=c3a", "method.block_size=128"]),
        ("BCA p=256", ["method=bca", "method.block_size=256"]),
    ]
    return [
        StepCase("RoBERTa-base classifier", "roberta-base", False, 32, 128, torch.float32, torch.bfloat16,
                 [*encoder_methods, ("C3A b=128", ["method=c3a", "method.block_size=128"]),
                  ("BCA p=256", ["method=bca", "method.block_size=256"])], []),
        StepCase("LLaMA-7B-width stack (2 decoder layers)", "llama2-7b", True, 8, 512, torch.bfloat16, None,
                 decoder_methods, ["model.arch.num_hidden_layers=2"]),
    ]  # fmt: skip


def build(case: StepCase, overrides: list[str], device: str):
    """(model, optimizer, adapter parameter count) for one method label, as the runner builds them."""
    cfg = compose([f"model={case.model}", *case.extra, *(overrides or ["method=lora"])])
    arch = OmegaConf.to_container(cfg.model.arch)
    config = AutoConfig.for_model(arch.pop("model_type"), **arch, **({} if case.causal else {"num_labels": 2}))
    auto = AutoModelForCausalLM if case.causal else AutoModelForSequenceClassification
    torch.manual_seed(0)
    with torch.device(device):  # random init on the device itself: seconds, not minutes, at 7B width
        model = auto.from_config(config, dtype=case.dtype)
    if not overrides:  # head only: the frozen encoder with a trainable classifier, the floor of any adapter
        heads = set(head_parameter_names(model))
        for name, p in model.named_parameters():
            p.requires_grad = name in heads
        return model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3), 0
    model = apply_method(model, cfg.method).to(device)  # .to: state peft keeps off the layers (VeRA's A, B)
    optimizer = torch.optim.AdamW(optimizer_groups(model, cfg.method))
    return model, optimizer, split_trainable(model, cfg.method.name).adapter_count


def batch_for(case: StepCase, device: str, vocab: int) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (case.batch, case.seq), generator=g).to(device)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    batch["labels"] = ids if case.causal else torch.randint(0, 2, (case.batch,), generator=g).to(device)
    return batch


def step_fn(model, optimizer, batch, device: str, autocast_dtype):
    def step() -> None:
        with torch.autocast(torch.device(device).type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def bench_steps_on(device: str, rounds: int, memory: bool = True) -> list[dict]:
    """Rows of the training-step table; ``memory=False`` skips the peak-memory pass (the slow CPU profiler)."""
    rows = []
    for case in cases(device.startswith("cuda")):
        tokens = case.batch * case.seq
        for label, overrides in case.methods:
            model, optimizer, adapter = build(case, overrides, device)
            model.train()
            fn = step_fn(model, optimizer, batch_for(case, device, model.config.vocab_size), device, case.autocast)
            times = time_rounds_on(device, {label: fn}, rounds, warmup=2 if rounds > 2 else 1)[label]
            peak = peak_memory_on(device, fn) if memory else None
            rows.append(
                {
                    "case": case.name,
                    "method": label,
                    "adapter_params": adapter,
                    "tokens_per_step": tokens,
                    "ms": spread([1e3 * t for t in times]),
                    "tokens_per_s": tokens / statistics.median(times),
                    "peak_mb": None if peak is None else peak / 2**20,
                }
            )
            print(f"  step {case.name} {label}: {rows[-1]['tokens_per_s']:.0f} tokens/s", flush=True)
            del model, optimizer, fn
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    reference = {r["case"]: r for r in rows if r["method"] == "LoRA r=8"}
    for r in rows:
        lora = reference.get(r["case"])
        r["time_vs_lora"] = r["ms"]["median"] / lora["ms"]["median"] if lora else None
        r["mem_vs_lora"] = r["peak_mb"] / lora["peak_mb"] if lora and r["peak_mb"] and lora["peak_mb"] else None
    return rows
