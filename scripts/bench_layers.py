"""Layer benchmark: forward + backward of ONE adapted Linear vs the frozen base layer alone.

    .venv/bin/python scripts/bench_layers.py --threads 1            # all sizes, writes results/bench_layers.{md,json}
    .venv/bin/python scripts/bench_layers.py --sizes 768 --rounds 5 --out /tmp/layers

Every method wraps the same frozen d x d Linear; the input requires grad (as inside a network), the
upstream gradient is fixed. Methods: ours (BCA at p = d, 256, 128, 64, with the execution path
``bca.adapters.kernels.exec_path`` picks; CDD at p = d and 128) and peft's LoRA r=8, VeRA r=256,
FourierFT n=1000, C3A at the same block sizes as BCA. Time and peak memory are ratios to the base layer
alone and to LoRA, per interleaved round (min / median / max over the rounds: the spread is part of the
result on a shared machine; see benchlib for how noise is handled and memory measured).

Targets (issue 16), checked on the medians of the same run: BCA at every block size at most LoRA r=8's
time; BCA's adapter overhead (time above the base layer) at most a quarter of peft C3A's at the same block
size; BCA's peak memory at most 1.1x LoRA's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from benchdevice import load_average, ratio_spread, spread
from benchlib import command_line, markdown_table, or_na, peak_memory_bytes, time_rounds, write_report
from torch import nn

from bca.adapters import BCAConfig, CDDConfig
from bca.adapters.kernels.exec_path import choose_path, requested_path
from bca.count import flops

SIZES = {768: 4096, 1024: 4096, 4096: 512}  # d -> tokens
SMALL_P = (256, 128, 64)  # the small block sizes that score best (C3A paper: b=128 on RoBERTa and LLaMA)
CDD_SMALL_P = 128
RESULTS = Path(__file__).resolve().parent.parent / "results"


class Holder(nn.Module):
    """A one-Linear model so peft can inject into ``proj``; we time the injected layer itself."""

    def __init__(self, base: nn.Linear):
        super().__init__()
        self.proj = base


def peft_layer(base: nn.Linear, config) -> nn.Module:
    from peft import get_peft_model

    # .to: VeRA keeps its shared A, B on the peft model, which would otherwise stay on the CPU
    return get_peft_model(Holder(base), config).to(base.weight.device).base_model.model.proj


def build_layers(d: int) -> dict[str, tuple[nn.Module, int | None]]:
    """name -> (layer, block size) sharing one frozen base Linear."""
    from peft import C3AConfig, FourierFTConfig, LoraConfig, VeraConfig

    torch.manual_seed(0)
    base = nn.Linear(d, d).requires_grad_(False)
    target = ["proj"]
    layers: dict[str, tuple[nn.Module, int | None]] = {"base": (base, None)}
    layers["LoRA r=8"] = (peft_layer(base, LoraConfig(r=8, lora_alpha=8, target_modules=target)), None)
    layers["VeRA r=256"] = (peft_layer(base, VeraConfig(r=256, target_modules=target)), None)
    layers["FourierFT n=1000"] = (peft_layer(base, FourierFTConfig(n_frequency=1000, target_modules=target)), None)
    for p in (d, *(s for s in SMALL_P if s < d and d % s == 0)):
        layers[f"C3A p={p}"] = (peft_layer(base, C3AConfig(block_size=p, target_modules=target)), p)
        layers[f"BCA p={p}"] = (peft_layer(base, BCAConfig(target_modules=target, block_size=p, init="gaussian")), p)
    for p in (d, CDD_SMALL_P):
        layers[f"CDD p={p}"] = (peft_layer(base, CDDConfig(target_modules=target, block_size=p, init="gaussian")), p)
    return layers


def trainable(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters() if p.requires_grad)


def step_fn(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor):
    params = [p for p in layer.parameters() if p.requires_grad]

    def step() -> None:
        layer(x).backward(grad)
        x.grad = None
        for p in params:
            p.grad = None

    return step


def bca_path(name: str, d: int, p: int | None, tokens: int) -> str:
    if not name.startswith("BCA"):
        return ""
    forced = requested_path()
    return forced if forced != "auto" else choose_path(d, d, p, tokens, "cpu", torch.float32)


def adapter_flops(name: str, d: int, p: int | None, tokens: int, path: str) -> float:
    """Analytic FLOPs the adapter adds to one training step (``bca.count.flops``; BCA on the path it takes)."""
    kind = name.split()[0]
    cost = {
        "base": lambda: None,
        "LoRA": lambda: flops.lora_cost(d, d, 8),
        "VeRA": lambda: flops.vera_cost(d, d, 256),
        "FourierFT": lambda: flops.fourierft_cost(d, d),
        "C3A": lambda: flops.c3a_cost(d, d, p),
        "BCA": lambda: (flops.bca_merged_cost if path == "merged" else flops.bca_cost)(d, d, p),
        "CDD": lambda: flops.cdd_cost(d, d, p),
    }[kind]()
    return 0.0 if cost is None else cost.adapter_train.at(tokens)


def bca_flop_floor(d: int, p: int, tokens: int) -> float:
    """The fewest adapter FLOPs BCA at block size p can do on either path, over LoRA r=8's: above 1, BCA does
    more arithmetic than LoRA whatever path runs (the kernel gradient alone is ~4·T·d²/p FLOPs)."""
    cheapest = min(adapter_flops("BCA", d, p, tokens, path) for path in ("fft", "merged"))
    return cheapest / adapter_flops("LoRA", d, None, tokens, "")


def bench_size(d: int, tokens: int, rounds: int) -> list[dict]:
    layers = build_layers(d)
    x = torch.randn(tokens, d, requires_grad=True)
    grad = torch.randn(tokens, d)
    fns = {name: step_fn(layer, x, grad) for name, (layer, _) in layers.items()}
    times = time_rounds(fns, rounds)
    memory = {name: peak_memory_bytes(fn) for name, fn in fns.items()}
    rows = []
    lora_flops = adapter_flops("LoRA", d, None, tokens, "")
    for name, (layer, p) in layers.items():
        mem, lora_mem = memory[name], memory["LoRA r=8"]
        path = bca_path(name, d, p, tokens)
        rows.append(
            {
                "d": d,
                "tokens": tokens,
                "method": name,
                "block_size": p,
                "path": path,
                "params": trainable(layer),
                "adapter_gflop": adapter_flops(name, d, p, tokens, path) / 1e9,
                "flops_vs_lora": adapter_flops(name, d, p, tokens, path) / lora_flops,
                "bca_flop_floor": bca_flop_floor(d, p, tokens) if name.startswith("BCA") else None,
                "ms": spread([1e3 * t for t in times[name]]),
                "vs_base": ratio_spread(times, name, "base"),
                "vs_lora": ratio_spread(times, name, "LoRA r=8"),
                "overhead_vs_c3a": overhead_ratio(times, name, f"C3A p={p}") if name.startswith("BCA") else None,
                "peak_mb": mem / 2**20 if mem is not None else None,
                "mem_vs_lora": mem / lora_mem if mem is not None and lora_mem else None,
                "times_s": times[name],
            }
        )
        r = rows[-1]
        print(f"  {d}x{d} T={tokens} {name:18s} {r['ms']['median']:8.1f} ms  x{r['vs_base']['median']:.2f}", flush=True)
    return rows


def overhead_ratio(times: dict[str, list[float]], name: str, c3a: str) -> dict[str, float]:
    """Per round: (time / base - 1) of ``name`` over that of ``c3a``, what each adds to the frozen layer."""
    per_round = [
        (a / b - 1) / (c / b - 1) for a, b, c in zip(times[name], times["base"], times[c3a], strict=True) if c > b
    ]
    return spread(per_round) if per_round else {"min": float("nan"), "median": float("nan"), "max": float("nan")}


def span(s: dict[str, float]) -> str:
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def target_checks(rows: list[dict]) -> list[str]:
    out = []
    for r in (r for r in rows if r["method"].startswith("BCA")):
        where = f"{r['d']}x{r['d']} T={r['tokens']} BCA p={r['block_size']} ({r['path']} path)"
        t, o, m = r["vs_lora"], r["overhead_vs_c3a"], r["mem_vs_lora"]
        floor = r["bca_flop_floor"]
        missed = t["median"] > 1 and floor > 1
        why = f" (on either path BCA's adapter does {floor:.2f}x LoRA's FLOPs)" if missed else ""
        out.append(
            f"{where}: time / LoRA {span(t)} <= 1: {verdict(t['median'], 1)}{why}; "
            f"overhead / C3A's {span(o)} <= 0.25: {verdict(o['median'], 0.25)}; "
            f"memory / LoRA {or_na(m, '.2f')} <= 1.1: {verdict(m, 1.1) if m is not None else 'n/a'}"
        )
    for r in (r for r in rows if r["method"].startswith("CDD")):
        out.append(f"{r['d']}x{r['d']} CDD p={r['block_size']} (no target): time / LoRA {r['vs_lora']['median']:.2f}")
    return out


def render(rows: list[dict], checks: list[str], command: str, rounds: int) -> str:
    header = [
        "d x d",
        "tokens",
        "method",
        "path",
        "trainable",
        "adapter GFLOP",
        "FLOPs / LoRA's",
        "ms (median)",
        "time / base (min-med-max)",
        "time / LoRA (min-med-max)",
        "peak MB",
        "mem / LoRA",
    ]
    fmt = "{min:.2f} / {median:.2f} / {max:.2f}"
    table = [
        [
            f"{r['d']}x{r['d']}",
            r["tokens"],
            r["method"],
            r["path"],
            f"{r['params']:,}",
            f"{r['adapter_gflop']:.3f}",
            f"{r['flops_vs_lora']:.2f}",
            f"{r['ms']['median']:.1f}",
            fmt.format(**r["vs_base"]),
            fmt.format(**r["vs_lora"]),
            or_na(r["peak_mb"], ".1f"),
            or_na(r["mem_vs_lora"], ".2f"),
        ]
        for r in rows
    ]
    threads = torch.get_num_threads()
    return (
        f"# Layer benchmark: forward + backward of one adapted Linear\n\n`{command}`\n\n"
        f"torch {torch.__version__}, {threads} threads, CPU, {rounds} interleaved rounds; load average at the end "
        f"{load_average()}. Ratios are per-round ratios (min / median / max over the rounds); the machine is "
        "shared, so absolute ms drift and the ratios are the figures to read. BCA's path: the one "
        "`bca.adapters.kernels.exec_path` picks for this shape and token count. Adapter GFLOP: the analytic FLOPs "
        "the adapter adds to one forward + backward (`bca.count.flops`, BCA on the path it takes; the frozen "
        "base's GEMMs excluded), and their ratio to LoRA r=8's.\n\n"
        + markdown_table(header, table)
        + "\n\nTargets (medians of this run; the range is over its rounds):\n\n"
        + "\n".join(f"- {c}" for c in checks)
        + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help=f"d values among {list(SIZES)}")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timed rounds per size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_layers", help="writes <out>.md and <out>.json")
    args = parser.parse_args(argv)
    unknown = [d for d in args.sizes if d not in SIZES]
    if unknown:
        parser.error(f"--sizes {unknown} not valid; choose among {list(SIZES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(True)
    rows = []
    for d in args.sizes:
        rows += bench_size(d, SIZES[d], args.rounds)
    checks = target_checks(rows)
    data = {"threads": torch.get_num_threads(), "rounds": args.rounds, "load_average": load_average(), "rows": rows}
    write_report(args.out, render(rows, checks, command_line("bench_layers.py", argv), args.rounds), data)


if __name__ == "__main__":
    main()
