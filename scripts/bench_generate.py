"""Serving cost: greedy generation tokens/s and peak memory per method, adapter unmerged and merged, vs the base model.

    .venv/bin/python scripts/bench_generate.py --threads 1          # SmolLM2-135M; results/bench_generate.{md,json}
    .venv/bin/python scripts/bench_generate.py --model tiny-llama --methods lora bca --new-tokens 8 --out /tmp/g

Each method is put on the model as the runner puts it (``bca.methods.apply_method``, q/v, its default config)
and its adapter parameters set to small random values, as after training (zero-initialised adapters would
make the merged-vs-unmerged check below vacuous). *Unmerged* is that model, what evaluation generates with;
*merged* has Delta W folded into the base weights, what a user serves (``merged``). Every variant generates
exactly ``--new-tokens`` tokens (the end token is suppressed until then) for the same GSM8K prompts in one
left-padded batch, timed in interleaved rounds with the base model (benchlib): tokens/s ratios are per-round
medians against the base model of the same rounds. Peak MB: tensors alive at once during one generate call
(KV cache, activations, the adapters' FFT buffers), weights excluded. No circulant paper reports this.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
from pathlib import Path

import torch
from benchlib import command_line, markdown_table, median_ratio, or_na, time_rounds, write_report
from transformers import GenerationConfig

from bca.config.hydra_app import compose
from bca.methods import apply_method, split_trainable
from bca.models import load_model
from bca.tasks.instruct.generate import left_pad
from bca.tasks.instruct.prompts import PromptFormat

RESULTS = Path(__file__).resolve().parent.parent / "results"
METHODS = ["lora", "vera", "fourierft", "c3a", "bca", "cdd"]
TINY = {"vera": ["method.r=8"], "fourierft": ["method.n_frequency=20"]}  # tiny-llama's 32 x 16 layers are small
SHARED_GSM8K = Path(os.environ.get("BCA_SHARED_DATA", RESULTS.parent.parent / "shared" / "data")) / "gsm8k"


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """Delta W folded into the base weights by peft's ``merge_and_unload`` (adapter layers removed, plain
    ``nn.Linear`` back) -- BCA and CDD included, as peft tuners."""
    return model.merge_and_unload()


def variants(base, method: str, model_name: str, seed: int = 0):
    """(unmerged, merged, adapter params): one random adapter, in the runner's model and merged."""
    small = TINY.get(method, []) if model_name == "tiny-llama" else []
    cfg = compose([f"model={model_name}", f"method={method}", *small]).method
    unmerged = apply_method(copy.deepcopy(base), cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in unmerged.parameters():
            if p.requires_grad:
                p.copy_(0.02 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    # every method is a peft tuner (apply_method returns the PeftModel): merge a copy, keep the original unmerged
    adapter = split_trainable(unmerged, method).adapter_count
    return unmerged.eval(), merged(copy.deepcopy(unmerged)).eval(), adapter


def prompts(tokenizer, n: int, data_dir: Path) -> list[list[int]]:
    """The first ``n`` GSM8K test problems in the model's prompt format (generated ones without the files)."""
    from bca.tasks.instruct.sources import SOURCES

    rows = (
        SOURCES["gsm8k"].load("test", data_dir=str(data_dir))
        if (data_dir / "test.jsonl").is_file()
        else SOURCES["gsm8k_synthetic"].load("test", size=n)
    )
    fmt = PromptFormat.for_tokenizer(tokenizer)
    return [fmt.prompt_ids(r["instruction"], r["input"]) for r in rows.select(range(n))]


def peak_bytes(fn) -> int | None:
    """Peak bytes of tensors alive at once during one call, from the profiler's allocation events in time order.

    Lighter than benchlib's memory timeline (which needs Python stacks: minutes for a 48-token generation);
    ``kineto_results`` is private API, so a torch that changes it gives None (timing is still reported).
    """
    from torch.profiler import ProfilerActivity, profile

    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        live = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            live += event.nbytes()
            peak = max(peak, live)
        return peak
    except Exception:  # private API: no memory figure rather than no benchmark
        return None


def generator(model, ids, mask, new_tokens: int, pad_token_id: int):
    config = GenerationConfig(
        do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad_token_id
    )

    @torch.no_grad()
    def generate() -> torch.Tensor:
        return model.generate(input_ids=ids, attention_mask=mask, generation_config=config)

    return generate


def measure(base, method, args, ids, mask, pad) -> dict:
    unmerged, merged_model, adapter = variants(base, method, args.model)
    models = {"base": base, "unmerged": unmerged, "merged": merged_model}
    fns = {k: generator(m, ids, mask, args.new_tokens, pad) for k, m in models.items()}
    times = time_rounds(fns, args.rounds, warmup=1)
    with torch.no_grad():  # merging must not change the model (same logits, same greedy tokens); the adapter must
        logits = {k: m(input_ids=ids, attention_mask=mask).logits for k, m in models.items()}
    diff = (logits["unmerged"] - logits["merged"]).abs().max().item()
    moved = (logits["unmerged"] - logits["base"]).abs().max().item()
    same_tokens = torch.equal(fns["unmerged"](), fns["merged"]())
    peaks = {k: peak_bytes(fn) for k, fn in fns.items()}
    tokens = ids.shape[0] * args.new_tokens
    row = {"method": method, "adapter_params": adapter, "max_abs_logit_diff": diff, "same_greedy_tokens": same_tokens,
           "adapter_moves_logits_by": moved}  # fmt: skip
    for k in ("unmerged", "merged"):
        row[f"{k}_tok_s"] = tokens / statistics.median(times[k])
        row[f"{k}_speed_vs_base"] = 1.0 / median_ratio(times, k, "base")
        row[f"{k}_peak_mb"] = None if peaks[k] is None else peaks[k] / 2**20
        row[f"{k}_mem_vs_base"] = None if peaks[k] is None or not peaks["base"] else peaks[k] / peaks["base"]
    row["base_tok_s"] = tokens / statistics.median(times["base"])
    row["base_peak_mb"] = None if peaks["base"] is None else peaks["base"] / 2**20
    row["times_s"] = times
    return row


def report(rows, args, argv, batch_shape) -> str:
    table = markdown_table(
        ["method", "adapter params", "base tok/s", "unmerged tok/s", "× base", "merged tok/s", "× base",
         "peak MB base", "unmerged × base", "merged × base", "merged = unmerged"],
        [
            [
                r["method"], f"{r['adapter_params']:,}", f"{r['base_tok_s']:.1f}", f"{r['unmerged_tok_s']:.1f}",
                f"{r['unmerged_speed_vs_base']:.2f}", f"{r['merged_tok_s']:.1f}", f"{r['merged_speed_vs_base']:.2f}",
                or_na(r["base_peak_mb"], ".1f"), or_na(r["unmerged_mem_vs_base"], ".2f"),
                or_na(r["merged_mem_vs_base"], ".2f"),
                f"{'same tokens' if r['same_greedy_tokens'] else 'TOKENS DIFFER'}, max |Δlogit| "
                f"{r['max_abs_logit_diff']:.1e} (adapter vs base: {r['adapter_moves_logits_by']:.2g})",
            ]
            for r in rows
        ],
    )  # fmt: skip
    return (
        f"# Greedy generation cost, {args.model} (q, v adapted): unmerged and merged adapters vs the base model\n\n"
        f"`{command_line('bench_generate.py', argv)}`\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU; {batch_shape[0]} GSM8K prompts in one "
        f"left-padded batch (prompt width {batch_shape[1]} tokens), {args.new_tokens} new tokens each (greedy, KV "
        f"cache); {args.rounds} interleaved rounds, × base = per-round median of base time / variant time (tokens/s "
        "ratio; < 1 is slower than the base model). Peak MB: tensors alive at once during one generate call "
        "(profiler allocation events), weights excluded. Adapters hold small random values (as after training). "
        "Merged: peft's merge_and_unload (plain nn.Linear layers back), for every method.\n\n"
        f"{table}\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", choices=["smollm2-135m", "tiny-llama"])
    parser.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_GSM8K, help="folder with GSM8K test.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_generate")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    loaded = load_model(compose([f"model={args.model}"]).model, causal=True)
    base, tok = loaded.model.eval(), loaded.tokenizer
    ids, mask = left_pad(prompts(tok, args.prompts, args.data_dir), tok.pad_token_id)
    rows = []
    for method in args.methods:
        rows.append(measure(base, method, args, ids, mask, tok.pad_token_id))
        print(f"[bench_generate] {method}: done", flush=True)
    text = report(rows, args, argv, tuple(ids.shape))
    write_report(args.out, text, {"model": args.model, "batch_shape": tuple(ids.shape), "rows": rows})


if __name__ == "__main__":
    main()
