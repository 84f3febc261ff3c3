"""Which BCA execution path is faster, per shape and token count: the measurement behind ``kernels/exec_path.py``.

    .venv/bin/python scripts/bench_paths.py --threads 1              # CPU grid, writes results/bench_paths.{md,json}
    .venv/bin/python scripts/bench_paths.py --device cuda --dtype bf16 --out /tmp/paths   # on a GPU

One BCA layer (frozen base Linear, input needing a gradient, as inside a network), forward + backward,
timed on the FFT path and on the merged-weight path in interleaved rounds. The rule of
``bca.adapters.kernels.exec_path`` is "merged iff tokens * (d_in + d_out) >= KAPPA * d_in * d_out" with one
KAPPA per device and per one-block / several-block layer; this script prints, per class, the KAPPA that
would lose the least time over the grid and checks the committed constants against every measured point
(where the rule picks the slower path, and by how much).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from benchdevice import device_description, load_average, pick_device, ratio_spread, time_rounds_on
from benchlib import command_line, markdown_table, write_report
from torch import nn

from bca.adapters import BCAConfig, BCALinear
from bca.adapters.kernels.exec_path import KAPPA, choose_path, exec_path

RESULTS = Path(__file__).resolve().parent.parent / "results"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# (d_out, d_in, p, token counts): CPU-sized by default; --grid papers for the papers' sizes on a GPU
GRIDS = {
    "cpu": [
        (384, 384, 384, (64, 256, 1024, 4096)),
        (384, 384, 64, (64, 256, 1024, 4096)),
        (192, 576, 192, (64, 256, 1024)),  # SmolLM2's GQA v_proj
        (768, 768, 768, (64, 256, 1024, 4096)),
        (768, 768, 128, (64, 256, 1024, 4096)),
        (1024, 1024, 1024, (128, 512, 2048)),
        (1024, 1024, 256, (128, 512, 2048)),
        (4096, 4096, 4096, (128, 512, 2048)),
        (4096, 4096, 128, (128, 512, 2048)),
    ],
    "tiny": [(32, 32, 32, (16, 256)), (32, 32, 8, (16, 256))],
    "papers": [
        (d_out, d_in, p, (512, 4096, 16384))
        for d_out, d_in in ((768, 768), (1024, 1024), (4096, 4096), (11008, 4096))
        for p in sorted({math.gcd(d_out, d_in), 256})
    ],
}


def blocks_class(d_out: int, d_in: int, p: int) -> str:
    return "one" if p == d_in == d_out else "many"


def measure(grid, device: str, dtype: torch.dtype, rounds: int) -> list[dict]:
    rows = []
    for d_out, d_in, p, token_counts in grid:
        torch.manual_seed(0)
        base = nn.Linear(d_in, d_out, device=device, dtype=dtype).requires_grad_(False)
        layer = BCALinear(base, "default", p, BCAConfig(block_size=p, init="gaussian"))
        for tokens in token_counts:
            x = torch.randn(tokens, d_in, device=device, dtype=dtype, requires_grad=True)
            grad = torch.randn(tokens, d_out, device=device, dtype=dtype)
            fns = {path: step(layer, x, grad, path) for path in ("fft", "merged")}
            times = time_rounds_on(device, fns, rounds)
            ratio = ratio_spread(times, "merged", "fft")
            rows.append(
                {
                    "d_out": d_out,
                    "d_in": d_in,
                    "p": p,
                    "blocks": blocks_class(d_out, d_in, p),
                    "tokens": tokens,
                    "u": tokens * (d_in + d_out) / (d_in * d_out),
                    "fft_ms": 1e3 * sorted(times["fft"])[len(times["fft"]) // 2],
                    "merged_ms": 1e3 * sorted(times["merged"])[len(times["merged"]) // 2],
                    "merged_over_fft": ratio,
                    "faster": "merged" if ratio["median"] < 1 else "fft",
                    "rule": choose_path(d_out, d_in, p, tokens, torch.device(device).type, dtype),
                }
            )
            r = rows[-1]
            print(
                f"  {d_out}x{d_in} p={p} T={tokens}: merged/fft {ratio['median']:.2f} -> rule {r['rule']}", flush=True
            )
    return rows


def step(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor, path: str):
    def run() -> None:
        with exec_path(path):
            layer(x).backward(grad)
        x.grad = layer.bca_kernel["default"].grad = None

    return run


def loss_of_pick(row: dict, pick: str) -> float:
    """Time lost by running ``pick`` instead of the faster path, relative to the faster one."""
    ratio = row["merged_over_fft"]["median"]
    chosen, best = (ratio, 1.0) if pick == "merged" else (1.0, ratio)
    return chosen / min(best, chosen) - 1


def ms_lost(row: dict, pick: str) -> float:
    """Milliseconds lost by running ``pick`` instead of the faster path (medians)."""
    return row[f"{pick}_ms"] - min(row["fft_ms"], row["merged_ms"])


def fit_kappa(rows: list[dict]) -> float | None:
    """The threshold on u = T (d_in + d_out) / (d_in d_out) that loses the least time (ms) over ``rows``.

    Absolute time, not relative: a 2x miss on a 2 ms layer (noise on a shared machine) should not move
    the threshold that decides the big layers, where the time is.
    """
    if not rows:
        return None
    us = sorted({r["u"] for r in rows})
    candidates = [us[0] / 2] + [math.sqrt(a * b) for a, b in zip(us, us[1:], strict=False)] + [us[-1] * 2]
    return min(candidates, key=lambda k: sum(ms_lost(r, "merged" if r["u"] >= k else "fft") for r in rows))


def checks(rows: list[dict], device_type: str) -> list[str]:
    out = []
    committed = KAPPA.get(device_type, KAPPA["cuda"])
    for cls in ("one", "many"):
        sub = [r for r in rows if r["blocks"] == cls]
        if not sub:
            continue
        fit = fit_kappa(sub)
        wrong = [r for r in sub if r["rule"] != r["faster"]]
        worst = max((loss_of_pick(r, r["rule"]) for r in sub), default=0.0)
        lost = sum(ms_lost(r, r["rule"]) for r in sub)
        lost_fit = sum(ms_lost(r, "merged" if r["u"] >= fit else "fft") for r in sub)
        where = ", ".join(f"{r['d_out']}x{r['d_in']} p={r['p']} T={r['tokens']}" for r in wrong)
        out.append(
            f"{cls} block{'s' if cls == 'many' else ''}: committed KAPPA {committed[cls]} picks the faster path at "
            f"{len(sub) - len(wrong)} of {len(sub)} points{f' (not at {where})' if wrong else ''}; worst relative "
            f"loss {100 * worst:.0f}%, {lost:.1f} ms lost over the grid; best fit here KAPPA {fit:.3g} "
            f"({lost_fit:.1f} ms lost)"
        )
    return out


def render(rows: list[dict], notes: list[str], command: str, device: str, dtype: str) -> str:
    header = ["d_out x d_in", "p", "tokens", "u", "FFT ms", "merged ms", "merged / FFT (min-med-max)", "faster", "rule"]
    table = [
        [
            f"{r['d_out']}x{r['d_in']}",
            r["p"],
            r["tokens"],
            f"{r['u']:.2f}",
            f"{r['fft_ms']:.1f}",
            f"{r['merged_ms']:.1f}",
            "{min:.2f} / {median:.2f} / {max:.2f}".format(**r["merged_over_fft"]),
            r["faster"],
            r["rule"] + ("" if r["rule"] == r["faster"] else " (slower)"),
        ]
        for r in rows
    ]
    return (
        f"# BCA execution paths: FFT vs merged weight, forward + backward of one layer\n\n`{command}`\n\n"
        f"{device_description(device)}, base dtype {dtype}; load average at the end {load_average()}. "
        "u = tokens (d_in + d_out) / (d_in d_out): the rule takes the merged path iff u >= KAPPA. "
        "Ratios are per-round ratios (interleaved rounds), min / median / max.\n\n"
        + markdown_table(header, table)
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES), help="base layer dtype")
    parser.add_argument("--grid", default=None, choices=list(GRIDS), help="default: cpu on CPU, papers on CUDA")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_paths", help="writes <out>.md and <out>.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    grid = GRIDS[args.grid or ("papers" if device.startswith("cuda") else "cpu")]
    rows = measure(grid, device, DTYPES[args.dtype], args.rounds)
    notes = checks(rows, torch.device(device).type)
    report = render(rows, notes, command_line("bench_paths.py", argv), device, args.dtype)
    write_report(args.out, report, {"device": device_description(device), "rows": rows, "notes": notes})


if __name__ == "__main__":
    main()
