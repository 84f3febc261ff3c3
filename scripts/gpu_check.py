"""``make gpu-check``: is the suite right and fast on a GPU? One run, at most ~10 minutes on one GPU.

    make gpu-check                                      # on a CUDA machine: writes results/bench_gpu.{md,json}
    .venv/bin/python scripts/gpu_check.py --out /tmp/g  # anywhere; without CUDA: tiny sizes on CPU

1. the device tests (tests/test_devices.py, tests/test_exec_path.py: every kernel, adapter and path vs
   float64 dense references, on CUDA and CPU, fp32 / bf16 / fp16 bases / autocast);
2. the layer benchmark at the papers' sizes (scripts/gpu_layers.py): time and peak memory per method as
   ratios to the frozen base and to LoRA, the issue's targets, and both BCA paths against the path rule;
3. training steps of a random RoBERTa-base classifier and of a LLaMA-7B-width stack (scripts/gpu_steps.py).

Without CUDA it says so, runs the same code at tiny sizes on CPU (a subset of the device tests, one timed
round, no peak-memory pass: the CPU profiler is slow and the GPU run reads the allocator instead), prints the
report, writes nothing unless ``--out`` is given (never under results/ by default) and exits 0 when every
step ran; CI runs it that way (tests/test_gpu_check.py) so the script cannot rot. Exit status 1: a device
test failed or a step raised. Missed speed targets are findings, reported, not failures.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch
from benchdevice import device_description, load_average, pick_device
from benchlib import command_line, markdown_table, or_na
from gpu_layers import PAPER_SIZES, PAPER_TOKENS, TINY_SIZES, TINY_TOKENS, bench_layers_on, path_checks, target_checks
from gpu_steps import bench_steps_on

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
DEVICE_TESTS = ["tests/test_devices.py", "tests/test_exec_path.py"]
CPU_TEST_SUBSET = "cpu and fp32 and bca"  # without CUDA: enough to prove the test step runs, in seconds
NO_GPU = "No GPU found (torch.cuda.is_available() is False): running the same checks at tiny sizes on CPU."


def run_device_tests(on_gpu: bool) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DEVICE_TESTS]
    if not on_gpu:
        cmd += ["-k", CPU_TEST_SUBSET]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", summary)}
    print(f"  device tests: {summary}", flush=True)
    failures = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    command = " ".join(cmd[2:])
    return {
        "command": command,
        "returncode": proc.returncode,
        "summary": summary,
        "counts": counts,
        "failures": failures,
    }


def layer_table(rows: list[dict]) -> str:
    fmt = "{min:.2f} / {median:.2f} / {max:.2f}"
    return markdown_table(
        ["d_out x d_in", "tokens", "method", "path", "trainable", "ms", "time / base", "time / LoRA", "peak MB",
         "mem / base", "mem / LoRA"],
        [[f"{r['d_out']}x{r['d_in']}", r["tokens"], r["method"], r["path"], f"{r['params']:,}",
          f"{r['ms']['median']:.2f}", fmt.format(**r["vs_base"]), fmt.format(**r["vs_lora"]),
          or_na(r["peak_mb"], ".1f"), or_na(r["mem_vs_base"], ".2f"), or_na(r["mem_vs_lora"], ".2f")] for r in rows],
    )  # fmt: skip


def step_table(rows: list[dict]) -> str:
    return markdown_table(
        ["model", "method", "adapter params", "tokens / step", "ms / step", "tokens / s", "time / LoRA", "peak MB",
         "mem / LoRA"],
        [[r["case"], r["method"], f"{r['adapter_params']:,}", r["tokens_per_step"], f"{r['ms']['median']:.1f}",
          f"{r['tokens_per_s']:,.0f}", or_na(r["time_vs_lora"], ".2f"), or_na(r["peak_mb"], ".0f"),
          or_na(r["mem_vs_lora"], ".2f")] for r in rows],
    )  # fmt: skip


def render(report: dict) -> str:
    lines = [f"# GPU check: device tests, layer and training-step benchmarks\n\n`{report['command']}`\n"]
    lines.append(f"{report['device']}; {report['wall_s']:.0f} s in all; load average at the end {load_average()}.")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".")
    if not report["on_gpu"]:
        lines.append(f"\n**{NO_GPU}** Tiny sizes, one round, no memory pass: these figures say nothing about speed.")
    tests = report["tests"]
    lines.append(f"\n## Device tests\n\n`{tests['command']}`: {tests['summary']}")
    lines += [f"- {f}" for f in tests["failures"]]
    lines.append(
        "\n## One layer, forward + backward\n\nCUDA-event times (median of interleaved rounds after warm-up; "
        "ratios min / median / max over rounds); peak MB = allocator peak above what existed before the call. "
        "BCA rows: the path `bca.adapters.kernels.exec_path` picks; `[fft]` / `[merged]`: that path forced.\n"
    )
    lines.append(layer_table(report["layers"]))
    lines.append("\nTargets (issue 16):\n")
    lines += [f"- {c}" for c in report["targets"]]
    lines.append("\nPath rule on this device (`bca.adapters.kernels.exec_path.KAPPA`):\n")
    lines += [f"- {c}" for c in report["path_rule"]]
    lines.append("\n## Training steps\n\nOne step = forward, backward, AdamW step; each method timed alone.\n")
    lines.append(step_table(report["steps"]))
    lines += ["\n## Errors\n"] + [f"- {e}" for e in report["errors"]] if report["errors"] else []
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default: 10 on GPU, 2 on CPU)")
    parser.add_argument("--out", type=Path, default=None, help="write <out>.md/.json (GPU default: results/bench_gpu)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    device = pick_device(args.device)
    on_gpu = device.startswith("cuda")
    if not on_gpu:
        print(NO_GPU + " Nothing is written under results/.", flush=True)
    rounds = args.rounds or (10 if on_gpu else 1)
    report = {"command": command_line("gpu_check.py", argv), "device": device_description(device), "on_gpu": on_gpu}
    report |= {"versions": versions(), "errors": [], "layers": [], "targets": [], "path_rule": [], "steps": []}
    report["tests"] = run_device_tests(on_gpu)
    sizes, tokens = (PAPER_SIZES, PAPER_TOKENS) if on_gpu else (TINY_SIZES, TINY_TOKENS)
    for key, work in (
        ("layers", lambda: bench_layers_on(device, sizes, tokens, torch.bfloat16, rounds, memory=on_gpu)),
        ("steps", lambda: bench_steps_on(device, rounds, memory=on_gpu)),
    ):
        try:
            report[key] = work()
        except Exception:  # noqa: BLE001 - one failed part is reported, the others still run
            report["errors"].append(f"{key}: {traceback.format_exc(limit=4)}")
            print(report["errors"][-1], file=sys.stderr)
    report["targets"] = target_checks(report["layers"])
    report["path_rule"] = path_checks(report["layers"], torch.device(device).type)
    report["wall_s"] = time.perf_counter() - t0
    text = render(report)
    print(text)
    out = args.out or (RESULTS / "bench_gpu" if on_gpu else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    return 1 if report["tests"]["returncode"] != 0 or report["errors"] else 0


def versions() -> dict:
    import peft
    import transformers

    return {"torch": torch.__version__, "cuda": torch.version.cuda, "peft": peft.__version__,
            "transformers": transformers.__version__, "python": sys.version.split()[0]}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
