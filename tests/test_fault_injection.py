"""SIGKILL a real process mid-training and mid-record-write, then rerun: it resumes, nothing is corrupt.

The write of a record can be paused half-way (``BCA_FAULT_PAUSE_IN_RECORD_WRITE``, test-only) so the kill
lands inside it for sure; the kill during training lands as soon as the first checkpoint exists.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sample_records import sample_record

from bca.config.hydra_app import compose
from bca.run import checkpoint, records
from bca.run.runner import run

ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_SILENT": "true",
}
RUN = [
    "model=tiny-roberta",
    "task.max_train_samples=64",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",  # 8 steps per epoch, 24 in all
    "trainer.epochs=3",
    "trainer.max_length=32",
    "trainer.progress=false",
    "trainer.checkpoint_every=3",
    "logger=disabled",
]


def wait_for(condition, proc, timeout=300.0, poll=0.01):
    """Poll until ``condition()`` is true; fail if the process ended first (the kill must land mid-run)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        assert proc.poll() is None, f"process ended before the fault could be injected:\n{proc.stderr.read()}"
        time.sleep(poll)
    raise AssertionError("timed out waiting for the process")


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def start(args, cwd, **env):
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("bca-run")), *args],
        cwd=cwd, env={**ENV, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_kill_while_writing_a_record_leaves_the_old_one_intact(tmp_path):
    """No torch needed: a process writing over an existing record is killed half-way through."""
    path = records.record_path(tmp_path, "abc")
    old = sample_record("abc", status="failed")
    records.write_record(path, old)
    new = sample_record("abc", padding=list(range(2000)))
    code = f"from bca.run import records; records.write_record(records.Path({str(path)!r}), {new!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**ENV, records.PAUSE_IN_WRITE_ENV: "60"})
    temp = lambda: [p for p in path.parent.glob(f".{path.name}.*.tmp") if p.stat().st_size > 0]  # noqa: E731
    wait_for(temp, proc, timeout=60)
    kill(proc)
    half = temp()[0].read_text()
    assert 0 < len(half) < len(json.dumps(new, indent=2))  # the kill landed mid-write
    assert records.read_record(path) == old  # readers see the old record, whole
    assert [p for p, _ in records.iter_records(tmp_path)] == [path]  # the temp file is not taken for a record


@pytest.mark.slow  # three real runs in subprocesses (~45 s on 2 busy cores)
def test_sigkill_mid_training_and_mid_record_write_then_resume(tmp_path):
    reference = run(compose([*RUN, f"results_dir={tmp_path / 'reference'}"]))
    rid = reference["run_id"]
    results = tmp_path / "results"
    ckpts = checkpoint.run_checkpoints(results, rid)
    path = records.record_path(results, rid)
    args = [*RUN, f"results_dir={results}"]

    # 1. killed during training, as soon as a checkpoint exists
    proc = start(args, tmp_path)
    wait_for(lambda: checkpoint.latest(ckpts) is not None, proc)
    kill(proc)
    assert not path.exists()
    killed_at = int(checkpoint.latest(ckpts).name.split("-")[1])
    assert 0 < killed_at < 24
    print(f"SIGKILL landed after the checkpoint of step {killed_at} of 24")

    # 2. the rerun resumes, trains to the end, and is killed while writing its record
    proc = start(args, tmp_path, **{records.PAUSE_IN_WRITE_ENV: "600"})
    wait_for(lambda: any(p.stat().st_size for p in path.parent.glob(f".{path.name}.*.tmp")), proc)
    kill(proc)
    assert not path.exists(), "a half-written record must never appear under the record's name"
    assert checkpoint.latest(ckpts).name == "step-00000024"

    # 3. the next rerun resumes from the final checkpoint and writes the record of an uninterrupted run
    out = subprocess.run(
        [str(Path(sys.executable).with_name("bca-run")), *args], cwd=tmp_path, env=ENV, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resumed from" in out.stdout
    record = records.read_record(path)
    assert record["status"] == "ok" and record["resumed_from_step"] == 24
    assert record["metrics"] == reference["metrics"]
    assert [p.name for p in ckpts.iterdir()] == ["step-00000024"]  # temp folders of killed saves are gone
    assert [p for p, _ in records.iter_records(results / "records")] == [path]
