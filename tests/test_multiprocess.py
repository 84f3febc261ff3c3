"""``accelerate launch`` with 2 CPU processes gives the result of 1 process: same steps, same metrics.

trainer.batch_size is the global batch (accelerate's split_batches), so both runs take the same optimiser
steps on the same examples; DDP averages the two half-batch gradients into the full-batch gradient. Dropout
is off here because two processes draw other dropout masks than one (with dropout on, the runs are two
samples of the same experiment, not the same numbers). What is left is float summation order: the tolerance
on the train loss is 1e-6 and the eval metrics must be equal. 21 eval rows do not split evenly in batches of
8 over 2 processes: the padding duplicates accelerate adds must be dropped again (gather_for_metrics).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bca.config.hydra_app import CONFIG_DIR, compose
from bca.run import checkpoint, records
from bca.run.runner import run

RUN = [
    "model=tiny-roberta",
    "+model.arch.hidden_dropout_prob=0.0",
    "+model.arch.attention_probs_dropout_prob=0.0",
    "task.max_train_samples=64",
    "task.max_eval_samples=21",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=8",
    "trainer.epochs=2",
    "trainer.max_length=32",
    "trainer.progress=false",
    "logger=offline",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes start torch + transformers on 2 busy cores (~40 s)
@pytest.mark.parametrize("grouping", ["trainer.group_by_length=false", "trainer.group_by_length=true"])
def test_two_processes_give_the_one_process_result(tmp_path, grouping):
    one = run(compose([*RUN, grouping, f"results_dir={tmp_path / 'one'}", "logger=disabled"]))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["WANDB_SILENT"] = "true"
    cwd = tmp_path / "two"
    cwd.mkdir()
    out = subprocess.run(
        [str(bin_dir / "accelerate"), "launch", "--config_file", f"{CONFIG_DIR}/accelerate/cpu_2proc.yaml",
         "--main_process_port", str(free_port()), str(bin_dir / "bca-run"), *RUN, grouping, "results_dir=."],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    # only the main process writes: one record, one wandb run, one line saying so
    assert out.stdout.count("[bca] record written") == 1 and out.stdout.count("best dev epoch") == 1
    (path,) = records.records_dir(cwd).glob("*.json")
    two = json.loads(path.read_text())
    assert two["run_id"] == one["run_id"]  # same config, whatever the number of processes
    assert len(list((cwd / "wandb").glob("offline-run-*"))) == 1
    # Hydra composed in each process but made no output folders; the checkpoint holds both processes' RNG
    assert sorted(p.name for p in cwd.iterdir()) == ["checkpoints", "records", "wandb"]
    ckpt = checkpoint.latest(checkpoint.run_checkpoints(cwd, two["run_id"]))
    assert sorted(p.name for p in ckpt.glob("random_states_*")) == ["random_states_0.pkl", "random_states_1.pkl"]

    assert two["time"]["steps"] == one["time"]["steps"] == 16
    for a, b in zip(one["metrics"]["epochs"], two["metrics"]["epochs"], strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-6)
        assert b["eval"] == a["eval"]
    accuracy = two["metrics"]["epochs"][-1]["eval"]["accuracy"]
    assert abs(accuracy * 21 - round(accuracy * 21)) < 1e-9  # 21 predictions: no duplicates, none lost


@pytest.mark.slow  # a killed and a resumed 2-process run (~60 s on 2 busy cores)
def test_two_processes_killed_mid_epoch_resume_to_the_same_metrics(tmp_path):
    """SIGKILL the launcher and both workers after the first mid-epoch checkpoint, rerun: same metrics."""
    import psutil

    args = [*RUN, "trainer.epochs=3", "trainer.checkpoint_every=3", "logger=disabled", "results_dir=."]
    reference = run(compose([*args[:-1], f"results_dir={tmp_path / 'one'}"]))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cwd = tmp_path / "two"
    cwd.mkdir()
    cmd = [str(bin_dir / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()),
           str(bin_dir / "bca-run"), *args]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = checkpoint.run_checkpoints(cwd, reference["run_id"])
    end = time.monotonic() + 600
    while checkpoint.latest(ckpts) is None:
        assert proc.poll() is None and time.monotonic() < end, "the run ended before it could be killed"
        time.sleep(0.01)
    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(family) == 3  # the launcher and its two workers (they run in their own sessions)
    for p in family:
        p.kill()
    psutil.wait_procs(family, timeout=30)
    proc.wait()
    killed_at = int(checkpoint.latest(ckpts).name.split("-")[1])
    assert killed_at < 24 and not records.records_dir(cwd).exists()

    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = records.records_dir(cwd).glob("*.json")
    two = json.loads(path.read_text())
    assert two["resumed_from_step"] == killed_at and two["time"]["steps"] == 24
    for a, b in zip(reference["metrics"]["epochs"], two["metrics"]["epochs"], strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-6)
        assert b["eval"] == a["eval"]


@pytest.mark.slow  # two processes on tiny-llama (~30 s on 2 busy cores)
def test_two_processes_take_every_instruction_batch(tmp_path):
    """20 problems in batches of 8 make one short batch per epoch, placed anywhere by the length bucketing;
    accelerate's sharding skips a short batch that is not last, so 2 processes took half the steps of 1
    (the bug this guards). With the short batch moved last they take all 2 x 3 steps."""
    args = ["model=tiny-llama", "task=gsm8k_synthetic", "task.max_train_samples=20", "task.max_eval_samples=4",
            "task.max_length=128", "task.max_new_tokens=4", "trainer.batch_size=8", "trainer.eval_batch_size=4",
            "trainer.epochs=2", "trainer.progress=false", "logger=disabled", "method=lora"]  # fmt: skip
    one = run(compose([*args, f"results_dir={tmp_path / 'one'}"]))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cwd = tmp_path / "two"
    cwd.mkdir()
    out = subprocess.run(
        [str(bin_dir / "accelerate"), "launch", "--config_file", f"{CONFIG_DIR}/accelerate/cpu_2proc.yaml",
         "--main_process_port", str(free_port()), str(bin_dir / "bca-run"), *args, "results_dir=."],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = records.records_dir(cwd).glob("*.json")
    two = json.loads(path.read_text())
    assert one["time"]["steps"] == two["time"]["steps"] == 2 * 3
    assert [e["step"] for e in two["metrics"]["epochs"]] == [3, 6]
