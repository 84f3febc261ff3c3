"""Whole training step of MiniLM-L6 on real Rotten Tomatoes batches: BCA vs LoRA vs C3A (and CDD).

    .venv/bin/python scripts/bench_step.py                        # writes results/bench_step.{md,json}
    .venv/bin/python scripts/bench_step.py --methods bca lora --rounds 5 --threads 2

Each method is built exactly as the runner builds it (``bca.methods.apply_method`` on the packaged MiniLM,
query+value targeted, classifier head trainable) with its default config, block size p = d = 384 for BCA
and C3A. One step = forward, backward, AdamW step, zero_grad on the same real batch (batch 32, max length
128, the default trainer). Ratios are to LoRA, the reference method of the issue, and to "head only" (the
frozen encoder with a trainable classifier: the cost floor of any adapter).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import torch
from benchlib import command_line, markdown_table, median_ratio, or_na, peak_memory_bytes, time_rounds, write_report

from bca.config.hydra_app import compose
from bca.methods import apply_method, optimizer_groups, split_trainable
from bca.models import head_parameter_names, load_model
from bca.tasks.classification import classification_loaders
from bca.tasks.registry import load_task

RESULTS = Path(__file__).resolve().parent.parent / "results"
METHODS = ["head-only", "lora", "bca", "c3a", "cdd"]


def real_batch(cfg) -> tuple[dict, object]:
    splits = load_task(cfg.task)
    loaded = load_model(cfg.model, num_labels=splits.num_labels)
    train_loader, _ = classification_loaders(splits, loaded.tokenizer, cfg.trainer, cfg.trainer.seed)
    return next(iter(train_loader)), splits.num_labels


def build(method: str, num_labels: int):
    """(model, optimizer) as the runner builds them; 'head-only' freezes everything but the classifier."""
    torch.manual_seed(0)
    cfg = compose([f"method={'lora' if method == 'head-only' else method}"])
    model = load_model(cfg.model, num_labels=num_labels).model
    if method == "head-only":
        heads = set(head_parameter_names(model))
        for name, p in model.named_parameters():
            p.requires_grad = name in heads
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        return model, optimizer, 0
    model = apply_method(model, cfg.method)
    optimizer = torch.optim.AdamW(optimizer_groups(model, cfg.method))
    return model, optimizer, split_trainable(model, cfg.method.name).adapter_count


def step_fn(model, optimizer, batch):
    def step() -> None:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_step")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = compose([])
    batch, num_labels = real_batch(cfg)
    built = {m: build(m, num_labels) for m in args.methods}
    fns = {m: step_fn(model, opt, batch) for m, (model, opt, _) in built.items()}
    for model, _, _ in built.values():
        model.train()
    times = time_rounds(fns, args.rounds)
    reference = "lora" if "lora" in fns else args.methods[0]
    rows = []
    for m, (_, _, adapter) in built.items():
        mem = peak_memory_bytes(fns[m])
        rows.append(
            {
                "method": m,
                "adapter_params": adapter,
                "ms": 1e3 * statistics.median(times[m]),
                "vs_lora": median_ratio(times, m, reference),
                "vs_head_only": median_ratio(times, m, "head-only") if "head-only" in fns else None,
                "peak_mb": None if mem is None else mem / 2**20,
                "times_s": times[m],
            }
        )
    shape = tuple(batch["input_ids"].shape)
    command = command_line("bench_step.py", argv)
    table = markdown_table(
        ["method", "adapter params", "ms / step", f"time / {reference}", "time / head-only", "peak MB"],
        [
            [
                r["method"],
                f"{r['adapter_params']:,}",
                f"{r['ms']:.0f}",
                f"{r['vs_lora']:.2f}",
                or_na(r["vs_head_only"], ".2f", missing="-"),
                or_na(r["peak_mb"], ".0f"),
            ]
            for r in rows
        ],
    )
    report = (
        f"# Training step, MiniLM-L6 (q, v adapted), real Rotten Tomatoes batch {shape}\n\n`{command}`\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; {args.rounds} interleaved rounds, "
        f"median per-round ratios; peak MB = tensors allocated during one step (profiler).\n\n{table}\n"
    )
    write_report(args.out, report, {"batch_shape": shape, "rows": rows})


if __name__ == "__main__":
    main()
