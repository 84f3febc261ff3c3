"""Serving cost: greedy generation tokens/s and peak memory per method, adapter unmerged and merged, vs the base model.

    .venv/bin/python scripts/bench_generate.py --threads 1 --experiment instruct_smollm2   # results/bench_generate.*
    .venv/bin/python scripts/bench_generate.py --model tiny-llama --methods lora bca --new-tokens 8 --out /tmp/g

``--experiment E`` measures every trained row of E at the row's own method overrides (C3A p = 64 and p = 192 are
two rows, not one method at its default size), labelled as the table labels it, so ``bca-table --decoder`` can
give each row its own figure; ``--methods`` measures methods at their default configs (labelled by method).

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
from dataclasses import dataclass
from pathlib import Path

import torch
from benchlib import code_version, command_line, markdown_table, median_ratio, or_na, time_rounds, write_report
from transformers import GenerationConfig

from bca.config.hydra_app import compose
from bca.methods import apply_method, split_trainable
from bca.models import load_model
from bca.paper import experiments
from bca.tasks.instruct.generate import left_pad
from bca.tasks.instruct.prompts import PromptFormat

RESULTS = Path(__file__).resolve().parent.parent / "results"
METHODS = ["lora", "vera", "fourierft", "c3a", "bca", "cdd"]
TINY = {"vera": ["method.r=8"], "fourierft": ["method.n_frequency=20"]}  # tiny-llama's 32 x 16 layers are small
SHARED_GSM8K = Path(os.environ.get("BCA_SHARED_DATA", RESULTS.parent.parent / "shared" / "data")) / "gsm8k"


@dataclass(frozen=True)
class Variant:
    """One adapter to measure: its label (a table row's, or the method's name) and its method overrides."""

    label: str
    method: str
    overrides: tuple[str, ...] = ()


def method_variants(methods: list[str], model_name: str) -> list[Variant]:
    return [Variant(m, m, tuple(TINY.get(m, [])) if model_name == "tiny-llama" else ()) for m in methods]


def experiment_variants(name: str) -> tuple[str | None, list[Variant]]:
    """(the experiment's model, one Variant per row that trains): a row's ``method=`` and ``method.*`` overrides
    (lr excluded: it does not change what generation computes). A row at 0 steps (zero-shot) is the base model."""
    experiment = experiments.load(name)
    model = next((o.split("=", 1)[1] for o in experiment.common if o.startswith("model=")), None)
    found = []
    for row in experiment.rows:
        overrides = experiments.merge_overrides(experiment.common, row.overrides)
        if "trainer.max_steps=0" in overrides:
            continue
        method = next((o.split("=", 1)[1] for o in overrides if o.startswith("method=")), None)
        if method is None:
            raise experiments.ExperimentError(
                f"row {row.label!r} of {name} names no method= override: nothing to measure"
            )
        sizes = tuple(o for o in overrides if o.startswith("method.") and not o.startswith("method.lr="))
        found.append(Variant(row.label, method, sizes))
    return model, found


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """Delta W folded into the base weights by peft's ``merge_and_unload`` (adapter layers removed, plain
    ``nn.Linear`` back) -- BCA and CDD included, as peft tuners."""
    return model.merge_and_unload()


def variants(base, variant: Variant, model_name: str, seed: int = 0):
    """(unmerged, merged, adapter params): one random adapter, in the runner's model and merged."""
    method = variant.method
    cfg = compose([f"model={model_name}", f"method={method}", *variant.overrides]).method
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


def measure(base, variant: Variant, args, ids, mask, pad) -> dict:
    unmerged, merged_model, adapter = variants(base, variant, args.model)
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
    row = {"label": variant.label, "method": variant.method, "overrides": list(variant.overrides),
           "adapter_params": adapter, "max_abs_logit_diff": diff, "same_greedy_tokens": same_tokens,
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


def _load_note(load: list[float]) -> str:
    """The machine's 1-minute load average over the measurement, so a reader can see what else ran beside it."""
    note = f"Load average {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} CPUs while measuring"
    threads = torch.get_num_threads()
    if max(load) > (os.cpu_count() or 1) + 0.5:  # more runnable threads than CPUs: this process waited for a core
        return note + ": more runnable threads than CPUs, so single tok/s figures drift (x base: per round)."
    if max(load) > threads + 0.5:
        return note + ": other processes ran on the other cores (shared caches and memory bandwidth)."
    return note + " (otherwise idle)."


def _noise_note(rows: list[dict]) -> str:
    """Merged models are plain ``nn.Linear`` layers, the base model's arithmetic (other weights, same cost): their
    x base is an A/A comparison, so its spread is what this run can resolve."""
    merged = [r["merged_speed_vs_base"] for r in rows]
    if not merged:
        return ""
    return (
        f"Merged x base spans {min(merged):.2f}-{max(merged):.2f} over the rows: merged models run the base "
        "model's layers (plain nn.Linear, the same arithmetic), so that spread is this run's timing noise, and an "
        "unmerged ratio inside it is no measurable overhead."
    )


def _rows_from(args) -> str:
    if args.experiment:
        return f"Rows: the trained rows of experiment `{args.experiment}`, each at its own method overrides."
    return "Rows: each method at its default config."


def report(rows, args, argv, batch_shape, load) -> str:
    table = markdown_table(
        ["variant", "adapter params", "base tok/s", "unmerged tok/s", "× base", "merged tok/s", "× base",
         "peak MB base", "unmerged × base", "merged × base", "merged = unmerged"],
        [
            [
                r["label"], f"{r['adapter_params']:,}", f"{r['base_tok_s']:.1f}", f"{r['unmerged_tok_s']:.1f}",
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
        f"`{command_line('bench_generate.py', argv)}` ({code_version()})\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU; {batch_shape[0]} GSM8K prompts in one "
        f"left-padded batch (prompt width {batch_shape[1]} tokens), {args.new_tokens} new tokens each (greedy, KV "
        f"cache); {args.rounds} interleaved rounds, × base = per-round median of base time / variant time (tokens/s "
        "ratio; < 1 is slower than the base model). Peak MB: tensors alive at once during one generate call "
        "(profiler allocation events), weights excluded. Adapters hold small random values (as after training). "
        "Merged: peft's merge_and_unload (plain nn.Linear layers back), for every method. "
        f"{_rows_from(args)} {_load_note(load)} {_noise_note(rows)}\n\n"
        f"{table}\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, choices=["smollm2-135m", "tiny-llama"],
                        help="default: the experiment's model, else smollm2-135m")  # fmt: skip
    parser.add_argument("--methods", nargs="*", default=None, choices=METHODS, help=f"default: {' '.join(METHODS)}")
    parser.add_argument("--experiment", default=None, help="measure this experiment's trained rows instead")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_GSM8K, help="folder with GSM8K test.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_generate")
    args = parser.parse_args(argv)
    if args.experiment:  # every check before the model loads
        if args.methods is not None:
            parser.error("--experiment measures the experiment's rows; drop --methods")
        try:
            model, todo = experiment_variants(args.experiment)
        except experiments.ExperimentError as err:
            parser.error(str(err))
        if args.model and model and args.model != model:
            parser.error(f"--model {args.model} but experiment {args.experiment} runs model={model}")
        args.model = args.model or model or "smollm2-135m"
    else:
        args.model = args.model or "smollm2-135m"
        todo = method_variants(args.methods or METHODS, args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    loaded = load_model(compose([f"model={args.model}"]).model, causal=True)
    base, tok = loaded.model.eval(), loaded.tokenizer
    ids, mask = left_pad(prompts(tok, args.prompts, args.data_dir), tok.pad_token_id)
    load = [os.getloadavg()[0]]
    rows = []
    for variant in todo:
        rows.append(measure(base, variant, args, ids, mask, tok.pad_token_id))
        load.append(os.getloadavg()[0])
        print(f"[bench_generate] {variant.label}: done", flush=True)
    text = report(rows, args, argv, tuple(ids.shape), load)
    data = {"model": args.model, "experiment": args.experiment, "batch_shape": tuple(ids.shape), "load": load,
            "rows": rows}  # fmt: skip
    write_report(args.out, text, data)


if __name__ == "__main__":
    main()
