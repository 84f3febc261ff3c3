"""Sweep configs: every valid block size and nothing else, the SLURM launcher composes, a real multirun runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from bca.config.hydra_app import CONFIG_DIR, register_schemas
from bca.run import records

MODEL_FOR_DIM = {"": "minilm-l6", "_768": "roberta-base", "_1024": "roberta-large"}


def compose_with_hydra(overrides):
    register_schemas()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="run", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("method", ["bca", "c3a"])
@pytest.mark.parametrize("suffix", sorted(MODEL_FOR_DIM))
def test_block_size_sweep_lists_every_divisor_of_the_model_dims(method, suffix):
    cfg = compose_with_hydra([f"sweep={method}_block_size{suffix}", f"model={MODEL_FOR_DIM[suffix]}"])
    swept = [int(v) for v in str(cfg.hydra.sweeper.params["method.block_size"]).split(",")]
    d = cfg.model.hidden_size  # q and v are d x d in these models
    assert swept == [p for p in range(1, d + 1) if d % p == 0]
    assert cfg.method.name == method and cfg.hydra.mode.name == "MULTIRUN"
    assert "joblib" in cfg.hydra.launcher._target_.lower()


def test_seed_sweep_and_slurm_launcher_compose():
    cfg = compose_with_hydra(["sweep=seeds", "hydra/launcher=slurm"])
    assert str(cfg.hydra.sweeper.params["trainer.seed"]) == "0,11111,22222,33333,44444"
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1


def test_multirun_sweep_writes_one_record_per_block_size(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        str(Path(sys.executable).with_name("bca-run")),
        "sweep=c3a_block_size",
        "model=tiny-roberta",
        "method.block_size=16,32",  # the command line replaces the config's list
        "hydra.launcher.n_jobs=1",
        "logger=disabled",
        f"results_dir={tmp_path}",
        "task.max_train_samples=16",
        "task.max_eval_samples=8",
        "trainer.batch_size=8",
        "trainer.epochs=1",
        "trainer.max_length=16",
        "trainer.progress=false",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = [r for _, r in records.iter_records(records.records_dir(tmp_path))]
    assert sorted(r["config"]["method"]["block_size"] for r in found) == [16, 32]
    assert {r["config"]["experiment"] for r in found} == {"c3a_block_size"}
    assert sorted(r["params"]["adapter"] for r in found) == [4 * 32 * 32 // 32, 4 * 32 * 32 // 16]
    # Hydra leaves one multirun.yaml for the sweep; no per-job folders (0/, 1/, .hydra/).
    assert {p.name for p in tmp_path.iterdir()} <= {"records", "checkpoints", "multirun.yaml"}
