"""Layer benchmark of ``make gpu-check``: one adapted Linear at the papers' sizes, bf16 base, on a device.

Sizes (d_out x d_in): 768², 1024² (RoBERTa base/large), 4096² and 11008 x 4096 (LLaMA-7B attention and
MLP up-projection), at 4k and 16k tokens. Methods: the frozen base, peft's LoRA r=8, VeRA r=256, FourierFT
n=1000, C3A at b = gcd(d_in, d_out) ("b = d") and b = 128, 256; ours BCA at p = d and 256 (the path
``bca.adapters.kernels.exec_path`` picks, plus both paths forced, which measures the path rule on this
device) and CDD.
Forward + backward (input needing a gradient, as inside a network), interleaved rounds after warm-up,
CUDA-event times; peak memory from the allocator. Without CUDA the same code runs at tiny sizes on CPU.
"""

from __future__ import annotations

import math

import torch
from bench_layers import Holder, peft_layer, step_fn, trainable
from bench_paths import fit_kappa, loss_of_pick
from benchdevice import peak_memory_on, ratio_spread, spread, time_rounds_on
from torch import nn

from bca.adapters import BCAConfig, CDDConfig
from bca.adapters.kernels.exec_path import KAPPA, choose_path, exec_path

PAPER_SIZES = [(768, 768), (1024, 1024), (4096, 4096), (11008, 4096)]  # (d_out, d_in)
PAPER_TOKENS = [4096, 16384]
TINY_SIZES = [(64, 64), (96, 64)]
TINY_TOKENS = [256]

__all__ = ["Holder", "bench_layers_on", "path_checks", "target_checks"]


class Forced(nn.Module):
    """A BCA layer run on one forced execution path (to time both paths of the same layer)."""

    def __init__(self, layer: nn.Module, path: str):
        super().__init__()
        self.layer, self.path = layer, path

    def forward(self, x):
        with exec_path(self.path):
            return self.layer(x)


def build(d_out: int, d_in: int, device: str, dtype: torch.dtype) -> dict[str, tuple[nn.Module, int | None]]:
    from peft import C3AConfig, FourierFTConfig, LoraConfig, VeraConfig

    torch.manual_seed(0)
    base = nn.Linear(d_in, d_out, device=device, dtype=dtype).requires_grad_(False)
    target = ["proj"]
    g = math.gcd(d_in, d_out)
    small = [p for p in (256, 128) if p < g and g % p == 0] or [g // 2]
    layers: dict[str, tuple[nn.Module, int | None]] = {"base": (base, None)}
    layers["LoRA r=8"] = (peft_layer(base, LoraConfig(r=8, lora_alpha=8, target_modules=target)), None)
    layers["VeRA r=256"] = (peft_layer(base, VeraConfig(r=256, target_modules=target)), None)
    layers["FourierFT n=1000"] = (peft_layer(base, FourierFTConfig(n_frequency=1000, target_modules=target)), None)
    for p in (g, *small):
        layers[f"C3A b={p}"] = (peft_layer(base, C3AConfig(block_size=p, target_modules=target)), p)
    for p in (g, small[0]):
        bca = peft_layer(base, BCAConfig(target_modules=target, block_size=p, init="gaussian"))
        layers[f"BCA p={p}"] = (bca, p)
        for path in ("fft", "merged"):
            layers[f"BCA p={p} [{path}]"] = (Forced(bca, path), p)
    layers[f"CDD p={g}"] = (peft_layer(base, CDDConfig(target_modules=target, block_size=g, init="gaussian")), g)
    return layers


def bench_layers_on(device: str, sizes, token_counts, dtype: torch.dtype, rounds: int, memory: bool = True):
    """Rows of the layer table; ``memory=False`` skips the peak-memory pass (the slow CPU profiler)."""
    rows = []
    for d_out, d_in in sizes:
        layers = build(d_out, d_in, device, dtype)
        for tokens in token_counts:
            x = torch.randn(tokens, d_in, device=device, dtype=dtype, requires_grad=True)
            grad = torch.randn(tokens, d_out, device=device, dtype=dtype)
            fns = {name: step_fn(layer, x, grad) for name, (layer, _) in layers.items()}
            times = time_rounds_on(device, fns, rounds, warmup=3 if rounds > 2 else 1)
            mems = {name: peak_memory_on(device, fn) if memory else None for name, fn in fns.items()}
            for name, (layer, p) in layers.items():
                rows.append(row(name, layer, p, d_out, d_in, tokens, times, mems, device, dtype))
            print(f"  layers {d_out}x{d_in} T={tokens}: done", flush=True)
    return rows


def row(name, layer, p, d_out, d_in, tokens, times, mems, device, dtype) -> dict:
    mem, base_mem, lora_mem = mems[name], mems["base"], mems["LoRA r=8"]
    auto = name.startswith("BCA") and "[" not in name
    return {
        "d_out": d_out,
        "d_in": d_in,
        "tokens": tokens,
        "method": name,
        "block_size": p,
        "path": choose_path(d_out, d_in, p, tokens, torch.device(device).type, dtype) if auto else "",
        "params": trainable(layer),
        "ms": spread([1e3 * t for t in times[name]]),
        "vs_base": ratio_spread(times, name, "base"),
        "vs_lora": ratio_spread(times, name, "LoRA r=8"),
        "peak_mb": None if mem is None else mem / 2**20,
        "mem_vs_base": mem / base_mem if mem and base_mem else None,
        "mem_vs_lora": mem / lora_mem if mem and lora_mem else None,
        "times_s": times[name],
    }


def _by(rows, d_out, d_in, tokens):
    return {r["method"]: r for r in rows if (r["d_out"], r["d_in"], r["tokens"]) == (d_out, d_in, tokens)}


def target_checks(rows: list[dict]) -> list[str]:
    """The issue's targets per size and token count: BCA <= LoRA's time, <= 1/4 of C3A's overhead at the
    same block size, <= 1.1x LoRA's memory (medians of this run)."""
    out = []
    for d_out, d_in, tokens in sorted({(r["d_out"], r["d_in"], r["tokens"]) for r in rows}):
        by = _by(rows, d_out, d_in, tokens)
        for name, r in by.items():
            if not name.startswith("BCA") or "[" in name:
                continue
            c3a = by.get(f"C3A b={r['block_size']}")
            overhead = (r["vs_base"]["median"] - 1) / (c3a["vs_base"]["median"] - 1) if c3a else None
            mem = r["mem_vs_lora"]
            out.append(
                f"{d_out}x{d_in} T={tokens} {name} ({r['path']} path): time / LoRA {r['vs_lora']['median']:.2f} "
                f"<= 1: {'met' if r['vs_lora']['median'] <= 1 else 'MISSED'}; overhead / C3A's "
                + (f"{overhead:.2f} <= 0.25: {'met' if overhead <= 0.25 else 'MISSED'}" if overhead else "n/a")
                + (f"; memory / LoRA {mem:.2f} <= 1.1: {'met' if mem <= 1.1 else 'MISSED'}" if mem else "")
            )
    return out


def path_checks(rows: list[dict], device_type: str) -> list[str]:
    """Both BCA paths measured on each shape: where the committed rule picks the slower one, and the
    KAPPA this device's measurements suggest (same fit as scripts/bench_paths.py)."""
    points = []
    for r in rows:
        if not (r["method"].startswith("BCA") and r["method"].endswith("[merged]")):
            continue
        by = _by(rows, r["d_out"], r["d_in"], r["tokens"])
        fft = by[r["method"].replace("[merged]", "[fft]")]
        ratio = [a / b for a, b in zip(r["times_s"], fft["times_s"], strict=True)]
        p, d_out, d_in, tokens = r["block_size"], r["d_out"], r["d_in"], r["tokens"]
        points.append(
            {
                "where": f"{d_out}x{d_in} p={p} T={tokens}",
                "blocks": "one" if p == d_in == d_out else "many",
                "u": tokens * (d_in + d_out) / (d_in * d_out),
                "merged_over_fft": spread(ratio),
                "fft_ms": fft["ms"]["median"],
                "merged_ms": r["ms"]["median"],
                "faster": "merged" if spread(ratio)["median"] < 1 else "fft",
                "rule": by[r["method"].replace(" [merged]", "")]["path"],
            }
        )
    out = []
    for cls in ("one", "many"):
        sub = [pt for pt in points if pt["blocks"] == cls]
        if not sub:
            continue
        wrong = [pt for pt in sub if pt["rule"] != pt["faster"]]
        worst = max(loss_of_pick(pt, pt["rule"]) for pt in sub)
        committed = KAPPA.get(device_type, KAPPA["cuda"])[cls]
        out.append(
            f"path rule, {cls} block(s): KAPPA {committed} picks the faster path at {len(sub) - len(wrong)} of "
            f"{len(sub)} points (worst loss {100 * worst:.0f}%); best fit here {fit_kappa(sub):.3g}"
            + (" — slower pick at " + ", ".join(pt["where"] for pt in wrong) if wrong else "")
        )
    return out
