"""method=bca and method=cdd through the real runner on tiny-roberta: compose -> train -> evaluate -> record.

tiny-roberta has random weights, so the accuracy means nothing; what is checked is the plumbing: the
record's parameter split against an analytic count, BCA's lr / p heuristic in the optimizer groups, a
finite training loss, and an invalid block size caught before any training.
"""

import pytest

from bca.config.hydra_app import compose
from bca.run import records
from bca.run.runner import run

TINY = [
    "model=tiny-roberta",
    "task.max_train_samples=24",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",
    "trainer.max_steps=4",
    "trainer.max_length=32",
    "trainer.progress=false",
    "logger=disabled",
]
# tiny-roberta: hidden 32, 2 layers, query+value targeted -> 4 adapted 32x32 Linears (block size 32 = d).
LAYERS, D = 4, 32
HEAD_PARAMS = D * D + D + D * 2 + 2  # RobertaClassificationHead: dense + out_proj

CASES = {
    # method: (overrides, adapter params, adapter lr as a factor of method.lr)
    "bca": ([], LAYERS * D * D // D, 1 / D),  # d_out * d_in / p, lr / p
    "bca-p8-no-heuristic": (
        ["method.block_size=8", "method.divide_lr_by_block_size=false"],
        LAYERS * D * D // 8,
        1.0,
    ),
    "cdd": ([], LAYERS * 3 * D, 1.0),  # diag . circ . diag: 3d per square layer
    "cdd-2-factors-p16": (["method.num_factors=2", "method.block_size=16"], LAYERS * (3 * D + 2 * D * D // 16), 1.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tiny_run_writes_a_valid_record(case, tmp_path):
    overrides, adapter_params, lr_factor = CASES[case]
    method = case.split("-")[0]
    cfg = compose([*TINY, f"method={method}", *overrides, f"results_dir={tmp_path}"])
    record = run(cfg)
    on_disk = records.read_record(records.record_path(tmp_path, record["run_id"]))
    assert on_disk["status"] == "ok", on_disk["error"]
    assert on_disk["params"]["adapter"] == adapter_params
    assert on_disk["params"]["head"] == HEAD_PARAMS
    assert on_disk["optimizer"]["adapter"]["lr"] == pytest.approx(cfg.method.lr * lr_factor)
    assert on_disk["optimizer"]["adapter"]["params"] == adapter_params
    assert on_disk["time"]["steps"] == 4
    assert all(0 < e["train_loss"] < 10 for e in on_disk["metrics"]["epochs"])
    assert 0.0 <= on_disk["metrics"]["best"]["eval"]["accuracy"] <= 1.0


def test_invalid_block_size_is_reported_before_training(tmp_path):
    from bca.config.validate import ConfigProblems

    cfg = compose([*TINY, "method=bca", "method.block_size=5", f"results_dir={tmp_path}"])
    with pytest.raises(ConfigProblems, match=r"valid block sizes: \[1, 2, 4, 8, 16, 32\]"):
        run(cfg)
    assert not list(tmp_path.rglob("*.json"))
