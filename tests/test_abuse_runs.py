"""Runs under abuse lose nothing: a damaged checkpoint is set aside, a full disk is one line and resumable, Ctrl-C
records the finished epochs, divergence exits 1, and the exit codes mean what the README says. The abuse run of
issue 15 as tables (the other kinds: test_abuse_*.py). The CLI functions are called in-process with their argv (no
subprocess start-up), on tiny-roberta and the small RTE folder of conftest's ``tiny_glue``.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from abuse_cli import base, bca_run, one_line_with
from crashes import crash_at

from bca.config.hydra_app import compose
from bca.run import checkpoint, records
from bca.run.runner import run


# --- Runs: checkpoints verified, disk full, Ctrl-C, divergence, WANDB_MODE --------------------------------------
def checkpointed(tiny_glue: Path, results: Path) -> list[str]:
    return [*base(tiny_glue), "trainer.checkpoint_every=1", "trainer.log_every=1", f"results_dir={results}"]


@pytest.fixture(scope="module")
def reference(tiny_glue, tmp_path_factory):
    """The uninterrupted run every recovered run must reproduce exactly (CPU kernels are deterministic)."""
    return run(compose(checkpointed(tiny_glue, tmp_path_factory.mktemp("reference"))))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CHECKPOINT_DAMAGE = [  # (file to truncate, keep every checkpoint?, the step the rerun resumes from)
    ("optimizer.bin", False, None),
    ("model.safetensors", False, None),
    ("model.safetensors", True, 2),  # the previous checkpoint is there: fall back to it
]


@pytest.mark.parametrize("name,keep_all,resumed", CHECKPOINT_DAMAGE, ids=["optimizer", "model", "fallback"])
def test_damaged_checkpoint_is_set_aside_and_the_run_recovers(
    name, keep_all, resumed, reference, tiny_glue, tmp_path, monkeypatch, capsys
):
    cfg = compose(checkpointed(tiny_glue, tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, 4, RuntimeError("the machine went away"))  # checkpoints at steps 1, 2, 3
        if keep_all:
            mp.setattr(checkpoint.shutil, "rmtree", lambda *a, **k: None)  # as if killed before the cleanup
        with pytest.raises(RuntimeError):
            run(cfg)
    ckpts = checkpoint.run_checkpoints(tmp_path, reference["run_id"])
    newest = checkpoint.latest(ckpts)
    assert newest.name == "step-00000003"
    _truncate(newest / name)
    capsys.readouterr()
    again = run(cfg)
    out = capsys.readouterr().out
    fallback = "falling back to step-00000002" if keep_all else "starting over"
    one_line_with(out, f"checkpoint {newest} is damaged", name, fallback)
    assert again["status"] == "ok" and again["resumed_from_step"] == resumed
    assert again["metrics"] == reference["metrics"]
    assert [p.name for p in ckpts.iterdir()] == ["step-00000004"]  # the damaged one is gone: never tried again
    assert run(cfg)["finished_at"] == again["finished_at"]  # and the next rerun just skips the finished run


def test_disk_full_during_a_checkpoint_is_one_line_and_loses_nothing(
    reference, tiny_glue, tmp_path, monkeypatch, capsys
):
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        if ".step-00000002.tmp" in str(f):  # the first checkpoint fits; the disk is full during the second
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    code, err = bca_run(checkpointed(tiny_glue, tmp_path), monkeypatch, capsys)
    monkeypatch.setattr(torch, "save", real_save)
    assert code == 4 and "Traceback" not in err, err
    ckpts = checkpoint.run_checkpoints(tmp_path, reference["run_id"])
    one_line_with(err, "disk full while writing", str(ckpts), "step-00000001", "nothing was lost")
    assert [p.name for p in ckpts.iterdir()] == ["step-00000001"]  # no half-written checkpoint folder
    code, _ = bca_run(checkpointed(tiny_glue, tmp_path), monkeypatch, capsys)
    done = records.read_record(records.record_path(tmp_path, reference["run_id"]))
    assert code == 0 and done["resumed_from_step"] == 1 and done["metrics"] == reference["metrics"]


def test_disk_full_while_writing_the_record_loses_nothing(reference, tiny_glue, tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records.os, "fsync", full)
    code, err = bca_run(checkpointed(tiny_glue, tmp_path), monkeypatch, capsys)
    monkeypatch.undo()
    path = records.record_path(tmp_path, reference["run_id"])
    assert code == 4 and "Traceback" not in err, err
    one_line_with(err, f"disk full while writing {path}", "nothing was lost")
    assert not path.exists() and not list(path.parent.glob("*.tmp"))
    code, _ = bca_run(checkpointed(tiny_glue, tmp_path), monkeypatch, capsys)  # resumes from the final checkpoint
    assert code == 0 and records.read_record(path)["metrics"] == reference["metrics"]


def test_ctrl_c_records_a_message_and_the_finished_epochs(tiny_glue, tmp_path, monkeypatch, capsys):
    argv = [*checkpointed(tiny_glue, tmp_path), "trainer.max_steps=8"]  # 4 steps per epoch: epoch 1 ends at step 4
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, 6, KeyboardInterrupt())
        code, err = bca_run(argv, mp, capsys)
    assert code == 130 and "Traceback" not in err, err
    one_line_with(err, "interrupted", "run the same command again to resume")
    (path,) = records.records_dir(tmp_path).glob("*.json")
    record = records.read_record(path)
    assert record["status"] == "failed" and record["error"]["type"] == "KeyboardInterrupt"
    assert "at step 6 after 1 finished epoch(s)" in record["error"]["message"]
    assert [e["epoch"] for e in record["metrics"]["epochs"]] == [1] and record["metrics"]["best"]["epoch"] == 1
    code, _ = bca_run(argv, monkeypatch, capsys)
    assert code == 0 and records.read_record(path)["resumed_from_step"] == 5


def test_diverged_run_exits_1(tiny_glue, tmp_path, monkeypatch, capsys):
    argv = [*base(tiny_glue), "method.divide_lr_by_block_size=false", "method.lr=1e20", f"results_dir={tmp_path}"]
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 1, err
    one_line_with(err, "diverged", "non-finite loss at step 2")
    (path,) = records.records_dir(tmp_path).glob("*.json")
    assert records.read_record(path)["status"] == "diverged"


def test_wandb_mode_disabled_in_the_environment_is_honoured(tiny_glue, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    argv = [o for o in base(tiny_glue) if o != "logger=disabled"] + [f"results_dir={tmp_path}"]  # the offline default
    code, err = bca_run(argv, monkeypatch, capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "records"]  # no wandb/ folder
