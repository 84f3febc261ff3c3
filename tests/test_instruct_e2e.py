"""Instruction tuning end to end: every method on tiny-llama writes a record with GSM8K-style accuracy.

tiny-llama has random weights, so accuracy is ~0: what is checked is the plumbing (record, adapter parameter
count against an analytic one for its GQA shapes, the loss falling), the zero-shot (max_steps=0) path, and
that loading the packaged SmolLM2 GGUF gives a model that really solves arithmetic.
"""

import math

import pytest

from bca.config.hydra_app import compose
from bca.report import tables
from bca.run import records
from bca.run.runner import run

TINY = [
    "model=tiny-llama",
    "task=gsm8k_synthetic",
    "task.max_train_samples=16",
    "task.max_eval_samples=4",
    "task.max_length=128",
    "task.max_new_tokens=4",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=4",
    "trainer.epochs=2",
    "trainer.progress=false",
    "logger=disabled",
]

# tiny-llama: 2 layers, q_proj 32 -> 32 and v_proj 32 -> 16 (GQA), block size 16 (gcd of the shapes).
Q, V = (32, 32), (32, 16)


def per_layer(count) -> int:
    return 2 * (count(*Q) + count(*V))


ADAPTER_PARAMS = {
    "lora": per_layer(lambda i, o: 8 * (i + o)),  # A (8 x in) + B (out x 8)
    "vera": per_layer(lambda i, o: 8 + o),  # lambda_d (r) + lambda_b (out); A/B are frozen and shared
    "fourierft": per_layer(lambda i, o: 20),  # n spectral entries
    "c3a": per_layer(lambda i, o: (i // 16) * (o // 16) * 16),  # one length-16 kernel per 16x16 block
    "bca": per_layer(lambda i, o: (i // 16) * (o // 16) * 16),
    # diag(in) + diag(out) + block-circulant with p = gcd(in, out) per layer (CDD's default block size)
    "cdd": per_layer(lambda i, o: i + o + i * o // math.gcd(i, o)),
}
OVERRIDES = {"vera": ["method.r=8"], "fourierft": ["method.n_frequency=20"]}
FAST = {"lora"}  # one fast method in the default suite; the others take ~10 s each


def _cases():
    return [pytest.param(m, marks=() if m in FAST else pytest.mark.slow) for m in sorted(ADAPTER_PARAMS)]


@pytest.mark.parametrize("method", _cases())
def test_tiny_instruct_run_writes_a_record(method, tmp_path):
    cfg = compose([*TINY, f"method={method}", *OVERRIDES.get(method, []), f"results_dir={tmp_path}"])
    record = run(cfg)
    on_disk = records.read_record(records.record_path(tmp_path, record["run_id"]))
    assert on_disk["status"] == "ok", on_disk["error"]
    assert on_disk["eval_set"] == {"n": 4}  # task.max_eval_samples: the n of the accuracy's binomial interval
    assert on_disk["params"]["adapter"] == ADAPTER_PARAMS[method] and on_disk["params"]["head"] == 0
    epochs = on_disk["metrics"]["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2] and on_disk["time"]["steps"] == 4  # 16 rows / batch 8
    best = on_disk["metrics"]["best"]["eval"]
    assert set(best) == {"accuracy", "answered"} and 0.0 <= best["accuracy"] <= best["answered"] <= 1.0
    assert on_disk["metrics"]["metric_for_best"] == "accuracy"


def test_max_steps_zero_evaluates_the_untrained_model_once(tmp_path):
    cfg = compose([*TINY, "method=lora", "trainer.max_steps=0", f"results_dir={tmp_path}"])
    record = run(cfg)
    assert record["status"] == "ok" and record["time"]["steps"] == 0
    (entry,) = record["metrics"]["epochs"]
    assert (entry["epoch"], entry["step"], entry["train_loss"]) == (0, 0, None)
    assert record["metrics"]["best"]["epoch"] == 0 and "accuracy" in entry["eval"]
    assert tables.row_label(record) == "zero-shot"  # not pooled with trained LoRA runs in bca-table


@pytest.mark.slow
def test_smollm2_gguf_loads_and_does_arithmetic():
    """The packaged Q4_1 GGUF, dequantised by transformers, answers simple sums (an independent check that
    the weights, tokenizer, chat template and greedy generation fit together)."""
    import datasets
    from accelerate import Accelerator

    from bca.models import ModelLoadError, load_model
    from bca.tasks.instruct.prompts import PromptFormat
    from bca.tasks.instruct.runtime import GenerationEval

    cfg = compose(["model=smollm2-135m"])
    try:
        loaded = load_model(cfg.model, causal=True)
    except ModelLoadError as err:
        pytest.skip(f"SmolLM2 GGUF unavailable: {err}")
    model, tok = loaded.model, loaded.tokenizer
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.model.layers[0].self_attn.v_proj.weight.shape == (192, 576)  # GQA: 3 KV heads x 64
    rows = datasets.Dataset.from_dict(
        {"instruction": ["What is 2 + 3?", "What is 10 + 7?", "What is 6 + 6?"], "input": [""] * 3,
         "answer": ["5", "17", "12"]}
    )  # fmt: skip
    evaluate = GenerationEval(Accelerator(), rows, PromptFormat.for_tokenizer(tok), tok, 32, 3, False)
    scores = evaluate(model)
    assert scores["accuracy"] >= 2 / 3, evaluate.last
