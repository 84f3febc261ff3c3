"""Padding and step time of random vs length-grouped GLUE batches (MRPC, RTE): what ``trainer.group_by_length`` buys.

    .venv/bin/python scripts/bench_padding.py                 # writes results/bench_padding.{md,json}
    .venv/bin/python scripts/bench_padding.py --tasks rte --steps 4 --threads 1

The batches are the ones the runner would train on (``bca.tasks.classification``, MiniLM's tokenizer,
batch 32, max length 128, seed 0), one epoch of each ordering. Padding fraction = padded tokens / computed tokens
over the whole epoch (exact). Step time = forward + backward + AdamW step of MiniLM-L6 + LoRA (the runner's build)
on ``--steps`` batches drawn at the same epoch positions of each ordering, timed in interleaved rounds so the load
of a shared machine hits both alike; the ratio grouped/random is per round, then the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import torch
from benchlib import command_line, markdown_table, time_rounds, write_report

from bca.config.hydra_app import compose
from bca.methods import apply_method, optimizer_groups
from bca.models import load_model
from bca.tasks.classification import classification_loaders
from bca.tasks.registry import load_task

RESULTS = Path(__file__).resolve().parent.parent / "results"


def epoch_batches(task: str, data_dir: str, group: bool) -> tuple[list[dict], object]:
    cfg = compose(
        [f"task={task}", f"task.data_dir={data_dir}", "model=minilm-l6", "method=lora", "logger=disabled",
         f"trainer.group_by_length={str(group).lower()}"]
    )  # fmt: skip
    splits = load_task(cfg.task)
    loaded = load_model(cfg.model, num_labels=splits.num_labels)
    loader, _ = classification_loaders(splits, loaded.tokenizer, cfg.trainer, cfg.trainer.seed)
    if group:
        loader.batch_sampler.set_epoch(0)
    return list(loader), cfg


def padding(batches: list[dict]) -> tuple[int, int]:
    """(real tokens, computed tokens) over the batches."""
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    computed = sum(b["attention_mask"].numel() for b in batches)
    return real, computed


def step_fn(cfg, batch: dict):
    model = load_model(cfg.model, num_labels=2).model
    model = apply_method(model, cfg.method, cfg.model.head_modules)
    optimizer = torch.optim.AdamW(optimizer_groups(model, cfg.method, head_modules=cfg.model.head_modules))

    def step():
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="mrpc,rte")
    parser.add_argument("--data-dir", default=os.environ.get("BCA_SHARED_DATA", "../shared/data") + "/glue")
    parser.add_argument("--steps", type=int, default=6, help="batches timed per ordering (same epoch positions)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "bench_padding"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, data = [], {"command": command_line("bench_padding.py", argv), "threads": args.threads, "tasks": {}}
    for task in args.tasks.split(","):
        random_b, cfg = epoch_batches(task, args.data_dir, group=False)
        grouped_b, _ = epoch_batches(task, args.data_dir, group=True)
        positions = [round(i * (len(random_b) - 1) / max(args.steps - 1, 1)) for i in range(args.steps)]
        fns = {}
        for name, batches in (("random", random_b), ("grouped", grouped_b)):
            steps = [step_fn(cfg, batches[i]) for i in positions]
            fns[name] = lambda steps=steps: [s() for s in steps]
        times = time_rounds(fns, args.rounds, warmup=1)
        ratio = statistics.median(g / r for g, r in zip(times["grouped"], times["random"], strict=True))
        entry = {}
        for name, batches in (("random", random_b), ("grouped", grouped_b)):
            real, computed = padding(batches)
            entry[name] = {
                "padding_fraction": 1 - real / computed,
                "step_s": statistics.median(times[name]) / args.steps,
                "batches": len(batches),
            }
        entry["step_time_ratio_grouped_over_random"] = ratio
        data["tasks"][task] = entry
        rows.append(
            [task, *(f"{100 * entry[k]['padding_fraction']:.1f}%" for k in ("random", "grouped")),
             *(f"{entry[k]['step_s']:.3f}" for k in ("random", "grouped")), f"{ratio:.2f}"]
        )  # fmt: skip
    report = "\n".join(
        [
            "# Random vs length-grouped GLUE batches (MiniLM-L6 + LoRA, batch 32, max length 128)",
            "",
            f"Command: `{data['command']}` ({args.threads} thread(s); a shared machine: ratios are measured in "
            "interleaved rounds, absolute times are indicative). Padding over one whole epoch; step time over "
            f"{args.steps} batches at the same epoch positions, median of {args.rounds} rounds.",
            "",
            markdown_table(
                [
                    "task",
                    "padding (random)",
                    "padding (grouped)",
                    "step s (random)",
                    "step s (grouped)",
                    "grouped / random time",
                ],
                rows,
            ),  # fmt: skip
            "",
        ]
    )
    write_report(Path(args.out), report, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
