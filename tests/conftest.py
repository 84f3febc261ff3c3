"""Shared test setup: offline hub (a miss fails in 0 s), quiet wandb, and the shared data location."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests use tiny models: one thread avoids OpenMP spin-waits that make tiny ops 10-100x slower on a busy CPU.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_DATA = Path(os.environ.get("BCA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def glue_dir() -> Path:
    path = SHARED_DATA / "glue"
    if not path.is_dir():
        pytest.skip(f"real GLUE files not found at {path} (set BCA_SHARED_DATA); a user's clone has none")
    return path
