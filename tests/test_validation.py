"""Bad input gets one clear error before any work: every problem at once, exit status 2, no record.

The command line is checked through the real ``bca-run`` in a subprocess (exit status, stderr, files left
behind); the checks themselves also in-process, where that is cheaper.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bca.config.hydra_app import compose
from bca.config.hydra_overrides import command_line_jobs
from bca.config.validate import ConfigProblems, check_run, trainer_problems

BCA_RUN = str(Path(sys.executable).with_name("bca-run"))
RTE = "RTE"


def bca_run(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([BCA_RUN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_composition_problems_are_all_reported_without_loading_torch(tmp_path):
    """Group values, keys and types are checked by composing alone: no torch import, about a second."""
    bad = [
        "method=loraa",
        "trainer.epoch=3",
        "trainer.epochs=three",
        "+trainer.x=1",
        "model.arch.foo=1",
        "method.lr=${nope}",
    ]
    code = (
        "import sys; from bca.config.hydra_args import command_line_problems; "
        f"problems = command_line_problems({bad!r}); "
        "print('\\n'.join(problems)); print('torch imported:', 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    lines = out.stdout.splitlines()
    assert lines[-1] == "torch imported: False", out.stderr
    text = "\n".join(lines[:-1])
    assert "method=loraa: there is no method 'loraa'; did you mean method=lora?" in text
    assert "valid method values: bca, c3a, cdd, fourierft, lora, vera" in text
    assert "trainer.epoch=3: unknown key 'epoch' in trainer" in text and "did you mean trainer.epochs?" in text
    assert "trainer.epochs=three: Value 'three' of type 'str' could not be converted to Integer" in text
    assert "+trainer.x=1: unknown key 'x' in trainer" in text
    assert "to add a new key write +model.arch.foo=1" in text
    assert "method.lr=${nope}: InterpolationKeyError" in text
    assert len(lines) - 1 == len(bad)


def test_cli_exits_2_with_every_problem_and_writes_nothing(tmp_path):
    """Problems from composition, the model/method shapes, the trainer and the data, in one report."""
    data = tmp_path / "glue"
    (data / RTE).mkdir(parents=True)
    real = Path(os.environ.get("BCA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    rows = (real / "glue" / RTE / "train.tsv").read_text().splitlines()[:20] if (real / "glue").is_dir() else []
    header = "index\tsentence1\thypothesis\tlabel"  # RTE's sentence2 column renamed: a column is missing
    (data / RTE / "train.tsv").write_text("\n".join([header, *rows[1:]]) + "\n")
    results = tmp_path / "results"
    out = bca_run(
        "model=tiny-roberta", "method=bca", "method.block_size=7", "task=rte", f"task.data_dir={data}",
        "trainer.checkpoint_every=0", f"results_dir={results}", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    err = out.stderr
    assert "method.block_size=7 does not divide layer roberta.encoder.layer.0.attention.self.query" in err
    assert "valid block sizes: [1, 2, 4, 8, 16, 32]" in err
    assert "trainer.checkpoint_every=0 must be >= 1" in err
    assert f"{data / RTE / 'train.tsv'}: header" in err and "lacks a column" in err
    assert "Traceback" not in err
    assert not results.exists(), "a rejected run must leave no record (nor anything else)"

    out = bca_run("method=loraa", "trainer.epoch=3", f"results_dir={results}", cwd=tmp_path)
    assert out.returncode == 2 and "method=loraa" in out.stderr and "trainer.epoch=3" in out.stderr


def test_sweep_is_checked_job_by_job_before_the_first_runs(tmp_path):
    """A bad value anywhere in a sweep (or a missing data folder, or a hub model offline) stops it up front."""
    results = tmp_path / "results"
    out = bca_run(
        "-m", "model=tiny-roberta,roberta-base", "method=bca", "method.block_size=7,8", "task=rte",
        f"task.data_dir={tmp_path / 'nowhere'}", "trainer.max_steps=1", f"results_dir={results}", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    err = out.stderr
    # labelled by the sweep values that select the failing jobs
    assert "[model=tiny-roberta method.block_size=7] method.block_size=7 does not divide" in err
    assert "valid block sizes: [1, 2, 4, 8, 16, 32]" in err
    assert "valid block sizes: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 768]" in err
    assert "[model=roberta-base] model=roberta-base loads 'FacebookAI/roberta-base' from the Hugging Face hub" in err
    assert "HF_HUB_OFFLINE=1" in err
    assert f"[every job] GLUE file not found: {tmp_path / 'nowhere' / RTE / 'train.tsv'}" in err
    assert "task.data_dir=<a folder in the original GLUE TSV layout" in err  # how to get the data
    assert not results.exists()


def test_key_of_one_method_is_checked_against_each_swept_method():
    problems, jobs, multirun = command_line_jobs(["method=lora,bca", "method.block_size=32"])
    assert problems == [
        "method.block_size=32 (with method=lora): unknown key 'block_size' in method (LoraMethod) "
        "(valid keys: name, target_modules, lr, head_lr, r, alpha, dropout)"
    ]
    problems, jobs, multirun = command_line_jobs(["method=c3a,bca", "method.block_size=32,64", "trainer.seed=0,1"])
    assert problems == [] and len(jobs) == 8 and not multirun  # multirun comes from -m here, not the config
    assert sorted(len(job) for job in jobs) == [3] * 8


def test_target_modules_matching_nothing_list_the_linear_names():
    cfg = compose(["model=tiny-roberta", "method=lora", "method.target_modules=[q_proj,v_proj]"])
    with pytest.raises(ConfigProblems) as err:
        check_run(cfg)
    (problem,) = err.value.problems
    assert "method.target_modules=['q_proj', 'v_proj'] matches no Linear layer" in problem
    assert all(name in problem for name in ("query", "key", "value", "dense", "out_proj"))


def test_global_batch_must_split_evenly_across_processes():
    cfg = compose(["trainer.batch_size=7", "trainer.eval_batch_size=64"]).trainer
    assert trainer_problems(cfg, world_size=1) == []
    assert trainer_problems(cfg, world_size=2) == [
        "trainer.batch_size=7 is the optimiser step's batch and must split evenly into 1 micro-batches x 2 "
        "processes: use a multiple of 2 (e.g. 2, 4, 6, 8)"
    ]


def test_accumulation_needs_a_batch_that_splits_into_its_micro_batches_and_a_known_scheduler():
    cfg = compose(["trainer.batch_size=12", "trainer.grad_accum_steps=8", "trainer.scheduler=cosin"]).trainer
    assert trainer_problems(cfg, world_size=1) == [
        "trainer.scheduler='cosin' is not one of: linear, cosine, constant",
        "trainer.batch_size=12 is the optimiser step's batch and must split evenly into 8 micro-batches: use a "
        "multiple of 8 (e.g. 8, 16, 24, 32)",
    ]
    ok = compose(["trainer.batch_size=128", "trainer.grad_accum_steps=8", "trainer.scheduler=cosine"]).trainer
    assert trainer_problems(ok, world_size=4) == []  # micro-batch 16, 4 per process
