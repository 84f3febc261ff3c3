"""Counting on the meta device: published parameter counts, architecture totals, no memory, whole-network FLOPs.

References are independent of the code: the papers' published adapter counts (../shared/papers.md), the
published total sizes of the three models, and, for FLOPs, the rule that the frozen network's cost does not
depend on which adapter sits on the same layers.
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModel

from bca.cli import bca_count
from bca.config.hydra_app import compose
from bca.count import counting
from bca.methods import apply_method, split_trainable
from bca.models import _arch_config, build_meta_model, load_model

_META: dict[str, torch.nn.Module] = {}


def meta_model(name: str, causal: bool = False) -> torch.nn.Module:
    """A fresh copy of the meta-built model (built once per session: deepcopy of meta tensors is free)."""
    if name not in _META:
        _META[name] = build_meta_model(compose([f"model={name}"]).model, causal=causal)
    return copy.deepcopy(_META[name])


def adapter_params(model_name: str, overrides: list[str], causal: bool = False) -> int:
    cfg = compose([f"model={model_name}", *overrides])
    model = apply_method(meta_model(model_name, causal), cfg.method)
    assert {p.device.type for p in model.parameters()} == {"meta"}
    return split_trainable(model, cfg.method.name).adapter_count


# q,v adapters, published counts (papers.md, "Trainable parameters on q,v").
PUBLISHED = [
    ("roberta-base", ["method=lora"], 294_912),
    ("roberta-base", ["method=vera", "method.r=1024"], 43_008),
    ("roberta-base", ["method=fourierft", "method.n_frequency=1000"], 24_000),
    ("roberta-base", ["method=c3a"], 18_432),  # block = d = 768
    ("roberta-base", ["method=bca"], 18_432),
    ("roberta-base", ["method=c3a", "method.block_size=128"], 110_592),
    ("roberta-base", ["method=cdd"], 3 * 768 * 24),  # CDD's 5.33x vs LoRA: 3d per layer
    ("roberta-large", ["method=lora"], 786_432),
    ("roberta-large", ["method=vera", "method.r=256"], 61_440),
    ("roberta-large", ["method=fourierft", "method.n_frequency=1000"], 48_000),
    ("roberta-large", ["method=c3a"], 49_152),
    ("roberta-large", ["method=bca"], 49_152),
    ("roberta-large", ["method=c3a", "method.block_size=128"], 393_216),
]


@pytest.mark.parametrize("model_name,overrides,published", PUBLISHED, ids=lambda v: str(v))
def test_adapter_params_equal_published(model_name, overrides, published):
    assert adapter_params(model_name, overrides) == published


@pytest.mark.parametrize("method", ["bca", "c3a"])
def test_llama2_7b_block_d_params_equal_published(method):
    assert adapter_params("llama2-7b", [f"method={method}"], causal=True) == 262_144


@pytest.mark.slow  # peft draws a randperm of 4096^2 per layer: about a minute
def test_llama2_7b_fourierft_params_equal_published():
    assert adapter_params("llama2-7b", ["method=fourierft"], causal=True) == 64_000


@pytest.mark.parametrize(
    "model_name,total",
    [("roberta-base", 124_645_632), ("roberta-large", 355_359_744), ("llama2-7b", 6_738_415_616)],
)
def test_arch_values_give_the_published_model_size(model_name, total):
    """The ``arch`` in configs/model/*.yaml is the real architecture: same parameter count as the hub model
    (bare model with pooler for RoBERTa, the causal LM for LLaMA2-7B)."""
    cfg = compose([f"model={model_name}"]).model
    if cfg.causal:
        model = build_meta_model(cfg, causal=True)
    else:
        with torch.device("meta"):
            model = AutoModel.from_config(_arch_config(cfg, None))
    assert sum(p.numel() for p in model.parameters()) == total


def test_llama2_7b_on_meta_allocates_no_memory():
    """In a fresh process (clean peak RSS): build LLaMA2-7B, apply BCA, count. 13.5 GB of bf16 weights
    would show; shapes only must stay within a few hundred MB of the imports."""
    script = textwrap.dedent(
        """
        import json, resource, torch
        from bca.config.hydra_app import compose
        from bca.methods import apply_method, split_trainable
        from bca.models import build_meta_model
        cfg = compose(["model=llama2-7b", "method=bca"])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        model = apply_method(build_meta_model(cfg.model, causal=True), cfg.method)
        total = sum(p.numel() for p in model.parameters())
        adapter = split_trainable(model, "bca").adapter_count
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        devices = sorted({p.device.type for p in model.parameters()})
        print(json.dumps({"growth_mb": (after - before) / 1024, "total": total, "adapter": adapter,
                          "devices": devices}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == ["meta"]
    assert result["total"] == 6_738_415_616 + 262_144
    assert result["adapter"] == 262_144
    assert result["growth_mb"] < 300, result


# ---- whole-network FLOPs ------------------------------------------------------------------------------

TINY_METHODS = {
    "lora": [],
    "vera": ["method.r=8"],
    "fourierft": ["method.n_frequency=20"],
    "c3a": ["method.block_size=8"],
    "bca": ["method.block_size=8"],
    "cdd": ["method.num_factors=2"],
}


def tiny_counts(method: str, device: str) -> dict:
    cfg = compose(["model=tiny-roberta", f"method={method}", *TINY_METHODS[method]])
    if device == "meta":
        model = build_meta_model(cfg.model)
    else:
        torch.manual_seed(0)
        model = load_model(cfg.model, num_labels=2).model
    model = apply_method(model, cfg.method)
    return counting.count_model(model, cfg.method, batch_size=2, seq_len=12)


def test_frozen_network_cost_is_the_same_under_every_adapter():
    """measured whole network - analytic adapter = the frozen network's own cost (its matmuls forward, its
    input gradients backward), which cannot depend on the adapter. Fails if a formula, or the per-layer
    "does the input need a gradient" rule, is wrong in the network (not just in an isolated layer)."""
    frozen = {}
    for method in TINY_METHODS:
        real = tiny_counts(method, "cpu")
        assert real["analytic_matches_measured"], method
        assert real["adapter_flops_train_step"] > 0
        frozen[method] = real["flops_train_step"] - real["adapter_flops_train_step"]
    assert max(frozen.values()) - min(frozen.values()) < 1e-6 * min(frozen.values()), frozen


@pytest.mark.parametrize("method", ["fourierft", "bca"])
def test_meta_counts_equal_real_counts(method):
    real, meta = tiny_counts(method, "cpu"), tiny_counts(method, "meta")
    assert meta == pytest.approx(real, rel=1e-12)


def test_first_adapted_layer_above_frozen_embeddings_needs_no_input_grad():
    cfg = compose(["model=tiny-roberta", "method=lora"])
    traced = counting.trace(apply_method(build_meta_model(cfg.model), cfg.method), batch_size=1, seq_len=4)
    layer = "base_model.model.roberta.encoder.layer"
    assert traced.input_grad == {
        f"{layer}.0.attention.self.query": False,
        f"{layer}.0.attention.self.value": False,
        f"{layer}.1.attention.self.query": True,
        f"{layer}.1.attention.self.value": True,
    }


# ---- bca-count and the run record ---------------------------------------------------------------------


def test_bca_count_prints_a_table_and_appends_csv_rows(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    argv = ["model=tiny-roberta", "method=bca", "trainer.batch_size=2", "trainer.max_length=8", "--csv", str(path)]
    assert bca_count.main(argv) == 0
    assert bca_count.main([*argv[:-2], "method.block_size=8", "--csv", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| tiny-roberta | bca | block_size=32 |" in out and "2 x 8 = 16 tokens" in out
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(counting.COLUMNS)
    assert [r["adapter_params"] for r in rows] == [str(4 * 32), str(4 * 32 * 32 // 8)]
    assert {r["tokens"] for r in rows} == {"16"}


def test_bca_count_rejects_a_block_size_that_does_not_divide(capsys):
    assert bca_count.main(["model=tiny-roberta", "method=bca", "method.block_size=5", "--no-csv"]) == 2
    assert "valid block sizes" in capsys.readouterr().err


def test_run_record_carries_the_counts(tmp_path):
    from bca.run.runner import run

    cfg = compose(
        [
            "model=tiny-roberta",
            "method=bca",
            "task.max_train_samples=8",
            "task.max_eval_samples=8",
            "trainer.batch_size=4",
            "trainer.max_length=16",
            "trainer.epochs=1",
            "trainer.progress=false",
            "logger=disabled",
            f"results_dir={tmp_path}",
        ]
    )
    record = run(cfg)
    expected = counting.count(cfg)
    assert record["flops"] == {k: pytest.approx(expected[k]) for k in counting.FLOP_KEYS}
    assert record["flops"]["tokens"] == 4 * 16


def test_record_counts_reports_failure_instead_of_raising():
    cfg = compose(["model=tiny-roberta", "method=bca", "method.block_size=5"])
    result = counting.record_counts(load_model(cfg.model, num_labels=2).model, cfg)
    assert set(result) == {"error"} and "block_size 5" in result["error"]


# ---- scripts/complexity_table.py: how published counts and the 32x claim are judged ---------------------


def _complexity_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "complexity_table.py"
    spec = importlib.util.spec_from_file_location("complexity_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_counts_match_to_their_printed_precision():
    script = _complexity_script()
    assert script.matches({"published_params": "294,912", "adapter_params": 294_912}) == "yes"
    assert script.matches({"published_params": "294,912", "adapter_params": 294_913}) == "NO"
    assert script.matches({"published_params": "33.5M", "adapter_params": 33_554_432}) == "yes (truncated)"
    assert script.matches({"published_params": "33.5M", "adapter_params": 33_700_000}) == "NO"
    assert script.matches({"published_params": "", "adapter_params": 1}) == "—"


def test_claim_crossing_is_where_the_forward_ratio_equals_the_claim():
    script = _complexity_script()
    # num: 100 per token + 1e6 per call; den: 2 per token + 1000 per call -> 1000x at T = 0, 50x as T -> inf
    num = {"adapter_flops_fwd_per_token": 100.0, "adapter_flops_fwd_per_call": 1e6}
    den = {"adapter_flops_fwd_per_token": 2.0, "adapter_flops_fwd_per_call": 1000.0}
    text = script.crossing(num, den, 64)
    t = float(text.rsplit("≤ ", 1)[1].split(" ")[0].replace(",", ""))
    assert script.fwd_ratio(num, den, t) == pytest.approx(64, rel=1e-3)
    assert script.crossing(num, den, 32) == "≥ 32× at every T"
    assert script.crossing(num, den, 2000) == "< 2000× at every T"
