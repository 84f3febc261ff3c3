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


def test_an_experiments_rows_are_measured_each_at_its_own_size(tmp_path):
    """``--experiment``: one bench row per trained table row, labelled as the table labels it, at the row's own
    block size (C3A's adapter holds d_in * d_out / p values per layer: tiny-llama's q 32x32 and v 32x16 over 2
    layers give 3072 / p), the zero-shot row skipped (it is the base model)."""
    exp = tmp_path / "tiny_decoder.yaml"
    exp.write_text(
        "title: t\nreports: r\nseeds: [0]\ncolumns: [gsm8k_synthetic]\ncommon: [model=tiny-llama]\nrows:\n"
        "  - {label: zero-shot, overrides: [method=lora, trainer.max_steps=0]}\n"
        "  - {label: C3A p=16, overrides: [method=c3a, method.block_size=16, method.lr=0.5]}\n"
        "  - {label: C3A p=8, overrides: [method=c3a, method.block_size=8]}\n"
    )
    out = tmp_path / "gen"
    proc = subprocess.run(
        [sys.executable, "scripts/bench_generate.py", "--experiment", str(exp), "--prompts", "2", "--new-tokens", "2",
         "--rounds", "1", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["model"] == "tiny-llama"
    rows = {r["label"]: r for r in data["rows"]}
    assert list(rows) == ["C3A p=16", "C3A p=8"]
    assert rows["C3A p=16"]["adapter_params"] == 3072 // 16 and rows["C3A p=8"]["adapter_params"] == 3072 // 8
    assert rows["C3A p=16"]["overrides"] == ["method.block_size=16"]  # the lr does not change what generation costs
    assert all(r["same_greedy_tokens"] for r in rows.values())
    text = out.with_suffix(".md").read_text()
    assert "| C3A p=8 | 384 |" in text
    assert "(commit " in text  # the report names the code that measured it (benchlib.code_version)
    merged = [r["merged_speed_vs_base"] for r in rows.values()]  # the A/A comparison: its spread is the noise
    assert f"Merged x base spans {min(merged):.2f}-{max(merged):.2f} over the rows" in text


def test_bad_experiment_arguments_fail_before_the_model_loads(tmp_path):
    def bench(*args):
        return subprocess.run([sys.executable, "scripts/bench_generate.py", *args, "--out", str(tmp_path / "g")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip

    unknown = bench("--experiment", "no_such_table")
    assert unknown.returncode == 2 and "unknown experiment 'no_such_table'; valid:" in unknown.stderr
    both = bench("--experiment", "instruct_smollm2", "--methods", "lora")
    assert both.returncode == 2 and "drop --methods" in both.stderr
    clash = bench("--experiment", "instruct_smollm2", "--model", "tiny-llama")
    assert clash.returncode == 2 and "runs model=smollm2-135m" in clash.stderr
    assert not (tmp_path / "g.md").exists() and not (tmp_path / "g.json").exists()
