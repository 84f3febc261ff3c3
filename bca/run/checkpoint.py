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

Each checkpoint carries ``manifest.json`` (size and SHA-256 of every file), checked before anything is
loaded: a file damaged later (a truncated ``optimizer.bin``, a disk error) would otherwise fail every rerun
the same way. A damaged checkpoint is said in one line and set aside (renamed ``.step-<N>.damaged``, removed
by the next save); the run falls back to the previous checkpoint if one is there, else starts over.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from bca.run.disk import DiskFull, is_disk_full

PREFIX = "step-"
MANIFEST = "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint exists but does not fit the model being trained."""


def run_checkpoints(results_dir: str | Path, rid: str) -> Path:
    return Path(results_dir) / "checkpoints" / rid


def complete(directory: Path) -> list[Path]:
    """The complete checkpoint folders, newest first (temp folders of an interrupted save are ignored)."""
    return sorted((p for p in Path(directory).glob(f"{PREFIX}*") if p.is_dir()), reverse=True)


def latest(directory: Path) -> Path | None:
    """The newest complete checkpoint folder."""
    done = complete(directory)
    return done[0] if done else None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """Record the size and SHA-256 of every file of a just-written checkpoint."""
    entries = {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in _files(folder)}
    (folder / MANIFEST).write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")


def _unreadable(path: Path) -> str | None:
    """Why a checkpoint file without a manifest entry cannot be read back, or None (older checkpoints)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            load_file(str(path))
        elif path.suffix in (".bin", ".pkl", ".pt"):
            torch.load(path, map_location="cpu", weights_only=False)  # our own files (accelerate pickles RNG states)
    except Exception as err:  # noqa: BLE001 - any failure to read it back is damage
        return f"{path.name} cannot be read ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return None


def damage(folder: Path) -> str | None:
    """What is wrong with a checkpoint's files (None: they are as written). Checked before anything is loaded."""
    manifest = folder / MANIFEST
    if not manifest.is_file():  # written before manifests existed: read every file back instead
        return next((why for why in map(_unreadable, _files(folder)) if why), None)
    try:
        entries = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        return f"{MANIFEST} cannot be read ({type(err).__name__})"
    for name, want in sorted(entries.items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != want["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, {want['bytes']} were written"
        if _sha256(path) != want["sha256"]:
            return f"{name} does not match the checksum it was written with"
    return None


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
        """Load the newest intact checkpoint if there is one; returns the step it was taken at."""
        acc = self.accelerator
        candidates = complete(self.directory)
        for i, path in enumerate(candidates):
            saved_by = len(list(path.glob("random_states_*.pkl")))
            if saved_by != acc.num_processes:
                # The data shards and RNG streams differ with the process count: the run cannot continue exactly.
                if acc.is_main_process:
                    print(
                        f"[bca] checkpoint {path} was written by {saved_by} processes, this run has "
                        f"{acc.num_processes}: starting over"
                    )
                return None
            problem = damage(path)  # every process reads the same files, so all take the same decision
            if problem is None:
                acc.load_state(str(path))
                self.last = path
                if acc.is_main_process:
                    print(f"[bca] resumed from {path} (step {self.state.step}, epoch {self.state.epoch})")
                return self.state.step
            fallback = f"falling back to {candidates[i + 1].name}" if i + 1 < len(candidates) else "starting over"
            acc.wait_for_everyone()
            if acc.is_main_process:
                print(f"[bca] checkpoint {path} is damaged ({problem}): set aside, {fallback}")
                path.rename(path.with_name(f".{path.name}.damaged"))  # never tried again; the next save removes it
            acc.wait_for_everyone()
        return None

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
        try:
            acc.save_state(str(tmp))
            acc.wait_for_everyone()
            if acc.is_main_process:
                write_manifest(tmp)
        except Exception as err:
            full = is_disk_full(err, tmp)
            if acc.is_main_process:
                shutil.rmtree(tmp, ignore_errors=True)  # the half-written folder; older checkpoints are untouched
            if full:
                raise DiskFull(self.directory, kept=str(self.last) if self.last else None) from err
            raise
        if acc.is_main_process:
            tmp.rename(final)
            for old in self.directory.iterdir():
                if old != final:
                    shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        self.last = final
        return final
