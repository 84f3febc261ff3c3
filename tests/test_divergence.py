"""A non-finite loss ends the run as ``diverged`` with the step and the last finite loss; a sweep goes on.

BCA without the 1/p heuristic (p = 32, tiny-roberta's width) at an extreme learning rate: AdamW's first step
moves every circulant entry by ~lr, the adapted projections overflow float32 and the loss of step 2 is NaN.
(With sane learning rates BCA without the heuristic stays finite here; see the README.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from bca.config.hydra_app import compose
from bca.run import records, tracking
from bca.run.runner import run

DIVERGING = [
    "model=tiny-roberta",
    "method=bca",
    "method.divide_lr_by_block_size=false",
    "method.lr=1e20",
    "task.max_train_samples=32",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",
    "trainer.epochs=2",
    "trainer.max_length=32",
    "trainer.progress=false",
    "trainer.log_every=1",
    "logger=disabled",
]


def test_non_finite_loss_marks_the_run_diverged(tmp_path, monkeypatch):
    logged = {}
    start = tracking.start

    def recording_start(*args, **kwargs):
        tracker = start(*args, **kwargs)
        log = tracker.log
        tracker.log = lambda values, step=None: (logged.setdefault(step, values), log(values, step=step))
        return tracker

    monkeypatch.setattr("bca.run.runner.tracking.start", recording_start)
    cfg = compose([*DIVERGING, f"results_dir={tmp_path}"])
    record = run(cfg)
    assert cfg.method.block_size == 32 and record["optimizer"]["adapter"]["lr"] == 1e20  # no 1/p
    assert record["status"] == "diverged"
    error = record["error"]
    assert error["type"] == "Diverged" and error["what"] == "loss"
    assert error["step"] == 2 and record["time"]["steps"] == 1
    assert error["last_finite_loss"] == logged[1]["train/loss"]  # the loss of the last step that completed
    assert 0.5 < error["last_finite_loss"] < 1.0  # ~ln 2: a 2-class head before any update
    assert record["metrics"]["epochs"] == [] and record["metrics"]["best"] is None
    on_disk = records.read_record(records.record_path(tmp_path, record["run_id"]))
    assert on_disk["status"] == "diverged" and on_disk["error"] == json.loads(json.dumps(error))
    assert run(cfg)["finished_at"] == record["finished_at"]  # diverged is final: a rerun skips it


def test_sweep_goes_on_after_a_diverged_run(tmp_path):
    """Hydra multirun through the real CLI: the diverged job is recorded, the next one runs, and the command
    exits 1 at the end (as bca-reproduce does: a run did not finish ok)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("bca-run")), "-m", *DIVERGING, "method.lr=1e20,0.2",
         "trainer.epochs=1", f"results_dir={tmp_path}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr[-3000:]
    assert "1 run(s) of the sweep did not finish ok" in out.stderr
    found = {r["config"]["method"]["lr"]: r for _, r in records.iter_records(records.records_dir(tmp_path))}
    assert sorted(found) == [0.2, 1e20]
    assert found[1e20]["status"] == "diverged" and found[1e20]["error"]["step"] == 2
    assert found[0.2]["status"] == "ok" and found[0.2]["time"]["steps"] == 4
    # no per-job output folders: the records, the checkpoints and Hydra's one multirun.yaml (sweep dir ".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "multirun.yaml", "records"]
