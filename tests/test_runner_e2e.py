"""One tiny end-to-end run per peft baseline: compose -> train -> evaluate -> a complete, valid record.

tiny-roberta has random weights, so the metric values mean nothing; what is checked is the plumbing:
the record's schema, the parameter split against an analytic count, the optimizer groups' learning rates,
and the wandb offline run directory.
"""

import json

import pytest

from bca.config.hydra_app import compose
from bca.run import records
from bca.run.runner import run
from bca.tasks.registry import load_task

TINY = [
    "model=tiny-roberta",
    "task.max_train_samples=24",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",
    "trainer.epochs=2",
    "trainer.max_length=32",
    "trainer.progress=false",
]

# tiny-roberta: hidden 32, 2 layers, query+value targeted -> 4 adapted 32x32 Linears.
LAYERS, D = 4, 32
ADAPTER_PARAMS = {
    "lora": LAYERS * 2 * 8 * D,  # A (r x d) + B (d x r), r = 8
    "vera": LAYERS * (8 + D),  # lambda_d (r) + lambda_b (d_out); shared random A/B are frozen buffers
    "fourierft": LAYERS * 20,  # n spectral coefficients per layer
    "c3a": LAYERS * D,  # block_size = d: one circulant kernel of d entries
}
OVERRIDES = {
    "lora": [],
    "vera": ["method.r=8"],
    "fourierft": ["method.n_frequency=20"],
    "c3a": [],
}
# RobertaClassificationHead: dense (d x d + d) and out_proj (d x 2 + 2).
HEAD_PARAMS = D * D + D + D * 2 + 2


@pytest.mark.parametrize("method", sorted(ADAPTER_PARAMS))
def test_tiny_run_writes_complete_record(method, tmp_path):
    cfg = compose([*TINY, f"method={method}", *OVERRIDES[method], f"results_dir={tmp_path}"])
    record = run(cfg)
    path = records.record_path(tmp_path, record["run_id"])
    on_disk = records.read_record(path)
    assert on_disk == json.loads(json.dumps(record))
    assert on_disk["status"] == "ok"
    assert on_disk["params"]["adapter"] == ADAPTER_PARAMS[method]
    assert on_disk["params"]["head"] == HEAD_PARAMS
    assert [e["epoch"] for e in on_disk["metrics"]["epochs"]] == [1, 2]
    best = on_disk["metrics"]["best"]
    assert best["label"] == "best dev epoch"
    assert 0.0 <= best["eval"]["accuracy"] <= 1.0
    assert on_disk["optimizer"]["adapter"]["lr"] == pytest.approx(cfg.method.lr)
    assert on_disk["optimizer"]["head"]["lr"] == pytest.approx(cfg.method.head_lr)
    assert on_disk["time"]["steps"] == 2 * 3  # 24 rows / batch 8, two epochs
    assert on_disk["memory"] and on_disk["versions"]["torch"]
    # the eval set's constant predictor (bca.tasks.trivial): its size and majority share, counted here by hand
    labels = [int(v) for v in load_task(cfg.task).eval["label"]]
    assert on_disk["eval_set"]["n"] == len(labels) == 16
    assert on_disk["eval_set"]["trivial"]["accuracy"] == max(labels.count(0), labels.count(1)) / 16
    assert list((tmp_path / "wandb").glob("offline-run-*")), "the offline wandb run directory is missing"


def test_finished_run_is_skipped(tmp_path):
    cfg = compose([*TINY, "trainer.epochs=1", f"results_dir={tmp_path}", "logger=disabled"])
    first = run(cfg)
    again = run(cfg)
    assert again["finished_at"] == first["finished_at"]
