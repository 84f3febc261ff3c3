"""``scripts/bench_generate.py`` at tiny size: every method's merged model (peft's merge_and_unload) generates the
unmerged model's tokens, with logits equal to fp32 rounding, while differing from the base model's.

It guards the script itself (it broke once when every method became a peft tuner) and, through it, that
merging is exact for all six methods on a decoder.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("lora", "vera", "fourierft", "c3a", "bca", "cdd")


def test_every_method_merges_to_the_same_generation(tmp_path):
    out = tmp_path / "gen"
    proc = subprocess.run(
        [sys.executable, "scripts/bench_generate.py", "--model", "tiny-llama", "--prompts", "2", "--new-tokens", "4",
         "--rounds", "1", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["method"] for r in rows] == list(METHODS)
    for r in rows:  # merged == unmerged to fp32 rounding, and the adapter really changes the model
        assert r["same_greedy_tokens"] and r["max_abs_logit_diff"] < 1e-4, r
        assert r["adapter_moves_logits_by"] > 10 * max(r["max_abs_logit_diff"], 1e-7), r
    text = out.with_suffix(".md").read_text()
    for method in METHODS:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {method} |"))
        assert "same tokens" in line, line
