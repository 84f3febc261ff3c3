"""``make gpu-check`` without a GPU (CI): it says so, runs every step at tiny sizes, leaves results/ alone, exits 0."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: make gpu-check runs for real there")
def test_gpu_check_without_cuda_runs_every_step_tiny_and_leaves_results_alone(tmp_path):
    def report_files():  # results/'s own files (result jobs running beside the tests write only into subfolders)
        return sorted((p.name, p.stat().st_mtime_ns) for p in (ROOT / "results").iterdir() if p.is_file())

    results_before = report_files()
    out = tmp_path / "gpu"  # only where asked: without --out nothing at all is written
    proc = subprocess.run(
        [sys.executable, "scripts/gpu_check.py", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "No GPU found (torch.cuda.is_available() is False)" in proc.stdout
    assert report_files() == results_before and not list((ROOT / "results").glob("bench_gpu*"))
    for section in ("## Device tests", "## One layer, forward + backward", "Targets (issue 16)", "## Training steps"):
        assert section in proc.stdout
    assert "## Errors" not in proc.stdout

    report = json.loads(out.with_suffix(".json").read_text())
    assert report["on_gpu"] is False and report["tests"]["returncode"] == 0 and report["tests"]["counts"]["passed"]
    methods = {r["method"] for r in report["layers"]}
    assert {"base", "LoRA r=8", "VeRA r=256", "FourierFT n=1000", "C3A b=64", "BCA p=64", "CDD p=64"} <= methods
    assert {"BCA p=64 [fft]", "BCA p=64 [merged]"} <= methods  # both paths, to check the rule
    steps = {(r["case"], r["method"]) for r in report["steps"]}
    assert {
        ("tiny-roberta (CPU)", "head only"),
        ("tiny-roberta (CPU)", "BCA p=d"),
        ("tiny-llama (CPU)", "CDD"),
    } <= steps
    assert all(r["tokens_per_s"] > 0 for r in report["steps"])
    assert report["path_rule"] and report["targets"]
