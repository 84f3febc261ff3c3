"""Facts about the machine and code a record needs to be trusted later: versions, git commit, peak memory."""

from __future__ import annotations

import importlib.metadata
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch

PACKAGES = ("torch", "transformers", "peft", "accelerate", "hydra-core", "datasets", "evaluate", "wandb")


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_state() -> dict[str, object]:
    """Commit of the code that ran (and whether the tree had uncommitted changes)."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def peak_memory_mb() -> dict[str, float | None]:
    """Peak resident memory of this process (Linux reports KiB) and of the accelerator, if any."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    accel = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"peak_rss_mb": round(rss, 1), "peak_accelerator_mb": accel}
