"""What one instruction-tuning run costs, part by part, to size a table's step budget before running it.

    .venv/bin/python scripts/instruct_budget.py --threads 1          # SmolLM2-135M + LoRA on GSM8K
    .venv/bin/python scripts/instruct_budget.py --method bca --steps 3 --generate 10

Times, on the real data and model of ``experiments/instruct_smollm2.yaml``: optimiser steps at the table's
batch (the mean of ``--steps`` after one warm-up step), the held-out response loss on ``--heldout`` GSM8K test
problems, the forgetting figure on ``--general`` Alpaca rows (base model + adapted model: two passes), and
greedy generation of ``--generate`` problems at the table's ``max_new_tokens``. Prints seconds and the cost
of a run of S steps with E evaluations, so S can be picked to fit a CPU budget.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from accelerate import Accelerator

from bca.config.hydra_app import compose
from bca.methods import apply_method, optimizer_groups
from bca.models import load_model
from bca.tasks.instruct.runtime import instruct_runtime
from bca.tasks.registry import load_task

DATA = Path(os.environ.get("BCA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def seconds(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of one call: on a shared machine the CPU time is the load-independent figure."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def per(total: tuple[float, float], n: int) -> tuple[float, float]:
    return total[0] / n, total[1] / n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="lora")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--heldout", type=int, default=100)
    parser.add_argument("--general", type=int, default=100)
    parser.add_argument("--generate", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = compose([
        "task=gsm8k", "model=smollm2-135m", f"method={args.method}", f"task.data_dir={DATA / 'gsm8k'}",
        f"task.max_eval_samples={args.generate}", f"task.heldout_loss_samples={args.heldout}",
        f"task.forgetting_samples={args.general}",
        f"task.forgetting_data_dir={DATA / 'instruct' / 'alpaca_data_first200.json'}",
        f"task.max_new_tokens={args.max_new_tokens}", f"trainer.batch_size={args.batch_size}",
        f"trainer.eval_batch_size={args.generate}", "trainer.progress=false",
    ])  # fmt: skip
    splits = load_task(cfg.task)
    loaded = load_model(cfg.model, causal=True)
    model = apply_method(loaded.model, cfg.method)
    accelerator = Accelerator()
    loader, evaluate = instruct_runtime(accelerator, cfg, splits, loaded.tokenizer)
    optimizer = torch.optim.AdamW(optimizer_groups(model, cfg.method))
    batches = iter(loader)

    def step():
        model(**next(batches)).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    step()  # warm-up
    timed = [seconds(step) for _ in range(args.steps)]
    step_s = per((sum(t[0] for t in timed), sum(t[1] for t in timed)), args.steps)
    losses = evaluate.losses
    general, losses.general = losses.general, None
    heldout_s = seconds(lambda: losses(model))
    losses.heldout, losses.general = None, general
    forgetting_s = seconds(lambda: losses(model))  # the first call also scores the base model
    problem_s = per(seconds(lambda: evaluate(model)), args.generate)
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch_size}, {args.method} on q/v; seconds wall / CPU")
    print(f"optimiser step: {step_s[0]:.2f} / {step_s[1]:.2f}")
    print(f"held-out loss on {args.heldout} problems: {heldout_s[0]:.1f} / {heldout_s[1]:.1f}")
    print(f"forgetting on {args.general} rows (base + adapted): {forgetting_s[0]:.1f} / {forgetting_s[1]:.1f}")
    print(f"generation per problem ({args.generate} in one batch, {args.max_new_tokens} new tokens): "
          f"{problem_s[0]:.2f} / {problem_s[1]:.2f}")  # fmt: skip
    h100, f100 = per(heldout_s, args.heldout / 100), per(forgetting_s, args.general / 100)  # the table's 100 rows
    for steps, points in ((100, 5), (200, 9), (400, 17)):
        # a run: its steps, a loss point at step 0 and every 25 steps (held-out + general), the base model once,
        # 100 generations
        run = [steps * st + points * (h + f / 2) + f / 2 + 100 * g
               for st, h, f, g in zip(step_s, h100, f100, problem_s, strict=True)]  # fmt: skip
        print(f"  a run of {steps} steps, {points} loss points, 100 problems generated: "
              f"{run[0] / 60:.0f} / {run[1] / 60:.0f} min")  # fmt: skip


if __name__ == "__main__":
    main()
