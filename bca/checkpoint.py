"""Checkpoints that let a killed run resume and still end with the metrics of an uninterrupted run.

What is saved (with ``accelerator.save_state``): the trainable parameters only (adapter + head: the frozen
base is rebuilt from the model source, so a checkpoint of a 7B model is megabytes, not gigabytes), the
optimizer, the LR scheduler, every process's RNG states and the loop's ``TrainState`` (step, epoch, the
batches already taken in the current epoch, the epochs' metrics). The data position needs no more than
that: the train sampler draws its order from (seed, epoch) alone, so a resumed run skips the batches of
the current epoch it already trained on and sees exactly the batches an uninterrupted run would.

Layout: ``<results_dir>/checkpoints/<run_id>/step-<N>/``. A checkpoint is written to a hidden temp folder
and renamed into place once complete (a rename is atomic), then the older ones are deleted: a process
killed at any moment leaves the previous complete checkpoint, never half of one. Only the last checkpoint
is kept, also after the run finishes: it holds the trained adapter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

PREFIX = "step-"


class CheckpointError(RuntimeError):
    """A checkpoint exists but does not fit the model being trained."""


def run_checkpoints(results_dir: str | Path, rid: str) -> Path:
    return Path(results_dir) / "checkpoints" / rid


def latest(directory: Path) -> Path | None:
    """The newest complete checkpoint folder (temp folders of an interrupted save are ignored)."""
    done = sorted(p for p in Path(directory).glob(f"{PREFIX}*") if p.is_dir())
    return done[-1] if done else None


def clear(results_dir: str | Path, rid: str) -> None:
    shutil.rmtree(run_checkpoints(results_dir, rid), ignore_errors=True)


def _trainable(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def _keep_trainable(models, weights, output_dir) -> None:
    """accelerate save pre-hook: drop the frozen weights from the state dicts about to be written."""
    for model, state in zip(models, weights, strict=True):
        keep = _trainable(model)
        for key in [k for k in state if k not in keep]:
            del state[key]


def _load_trainable(models, input_dir) -> None:
    """accelerate load pre-hook: load the trainable weights ourselves, checking that every one is there.

    The models are then removed from ``models`` so accelerate does not try a strict load of a full state dict.
    """
    from safetensors.torch import load_file

    for i, model in enumerate(models):
        path = Path(input_dir) / ("model.safetensors" if i == 0 else f"model_{i}.safetensors")
        state = load_file(str(path))
        missing = sorted(_trainable(model) - set(state))
        unexpected = model.load_state_dict(state, strict=False).unexpected_keys
        if missing or unexpected:
            raise CheckpointError(
                f"checkpoint {input_dir} does not fit this model (missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}); delete {Path(input_dir).parent} to start the run over"
            )
    models.clear()


class Checkpointer:
    """Save and restore one run's checkpoints; every process calls every method (accelerate collectives)."""

    def __init__(self, accelerator, directory: Path, state):
        self.accelerator, self.directory, self.state = accelerator, Path(directory), state
        self.last: Path | None = None  # the newest complete checkpoint of this run
        accelerator.register_for_checkpointing(state)
        accelerator.register_save_state_pre_hook(_keep_trainable)
        accelerator.register_load_state_pre_hook(_load_trainable)

    def restore(self) -> int | None:
        """Load the newest checkpoint if there is one; returns the step it was taken at."""
        path = latest(self.directory)
        if path is None:
            return None
        saved_by = len(list(path.glob("random_states_*.pkl")))
        if saved_by != self.accelerator.num_processes:
            # The data shards and RNG streams differ with the process count: the run cannot continue exactly.
            if self.accelerator.is_main_process:
                print(
                    f"[bca] checkpoint {path} was written by {saved_by} processes, this run has "
                    f"{self.accelerator.num_processes}: starting over"
                )
            return None
        self.accelerator.load_state(str(path))
        self.last = path
        if self.accelerator.is_main_process:
            print(f"[bca] resumed from {path} (step {self.state.step}, epoch {self.state.epoch})")
        return self.state.step

    def save(self) -> Path:
        """Checkpoint the current state as ``step-<N>`` and delete the older checkpoints of this run."""
        acc = self.accelerator
        final = self.directory / f"{PREFIX}{self.state.step:08d}"
        if final.exists():  # e.g. the end of an epoch that was also a step checkpoint
            self.last = final
            return final
        tmp = self.directory / f".{final.name}.tmp"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        acc.wait_for_everyone()
        if acc.is_main_process:
            tmp.rename(final)
            for old in self.directory.iterdir():
                if old != final:
                    shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        self.last = final
        return final
