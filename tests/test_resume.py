"""Checkpoint/resume and determinism on a real tiny run (tiny-roberta, dropout on, CPU).

A run interrupted after a mid-epoch checkpoint and rerun must end with exactly the metrics of an
uninterrupted run: that needs the trainable weights, AdamW moments, LR schedule, RNG (dropout masks) and data
position all restored. Equality is exact (``==`` on floats): CPU kernels are deterministic.
"""

import pytest
from crashes import Crash, crash_at
from safetensors.torch import load_file

from bca.config.hydra_app import compose
from bca.run import checkpoint, records
from bca.run.runner import run

TINY = [
    "model=tiny-roberta",
    "task.max_train_samples=24",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",  # 3 steps per epoch
    "trainer.epochs=3",
    "trainer.max_length=32",
    "trainer.progress=false",
    "trainer.log_every=1",
    "trainer.checkpoint_every=2",  # mid-epoch checkpoints at steps 2, 4, 8 (+ every epoch end)
    "logger=disabled",
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    return run(compose([*TINY, f"results_dir={out}"])), out


@pytest.mark.parametrize("crash_step,resume_step", [(5, 4), (7, 6)])  # mid-epoch; just after an epoch end
def test_resumed_run_ends_with_the_uninterrupted_metrics(crash_step, resume_step, uninterrupted, tmp_path):
    reference, _ = uninterrupted
    cfg = compose([*TINY, f"results_dir={tmp_path}"])
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, crash_step)
        with pytest.raises(Crash):
            run(cfg)
    path = records.record_path(tmp_path, reference["run_id"])
    assert records.read_record(path)["status"] == "failed"  # not finished: the rerun must not skip it
    resumed = run(cfg)
    assert resumed["resumed_from_step"] == resume_step
    assert resumed["status"] == "ok" and resumed["time"]["steps"] == 9
    assert resumed["metrics"] == reference["metrics"]  # exact: every epoch's train loss and eval scores


def test_checkpoint_holds_only_the_trainable_state_and_only_the_last_is_kept(uninterrupted):
    record, out = uninterrupted
    assert record["resumed_from_step"] is None
    folders = list(checkpoint.run_checkpoints(out, record["run_id"]).iterdir())
    assert [f.name for f in folders] == ["step-00000009"] and record["checkpoint"] == str(folders[0])
    weights = load_file(str(folders[0] / "model.safetensors"))
    assert sum(t.numel() for t in weights.values()) == record["params"]["trainable"]
    assert all("lora_" in k or "classifier" in k for k in weights)
    assert {p.name for p in folders[0].iterdir()} >= {"optimizer.bin", "scheduler.bin", "random_states_0.pkl"}


def test_finished_run_reruns_from_scratch_with_force(uninterrupted, tmp_path):
    reference, _ = uninterrupted
    cfg = compose([*TINY, f"results_dir={tmp_path}", "trainer.checkpoint_every=null"])  # same run id
    first = run(cfg)
    again = run(cfg, force=True)
    assert again["resumed_from_step"] is None and again["started_at"] >= first["started_at"]
    assert first["metrics"] == again["metrics"] == reference["metrics"]  # same config + seed: identical


def test_another_seed_gives_other_metrics(uninterrupted, tmp_path):
    reference, _ = uninterrupted
    other = run(compose([*TINY, f"results_dir={tmp_path}", "trainer.seed=1"]))
    assert other["metrics"]["epochs"][0]["train_loss"] != reference["metrics"]["epochs"][0]["train_loss"]
