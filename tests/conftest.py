"""Shared test setup: offline hub (a miss fails in 0 s), quiet wandb, the shared data path, a tiny RTE folder."""

import os
import random
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


WORDS = "the a cat dog sat ran on under mat house tree red blue big small quickly slowly".split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))


@pytest.fixture(scope="module")
def tiny_glue(tmp_path_factory) -> Path:
    """A GLUE folder holding a small RTE in the original TSV layout (40 train, 16 dev rows)."""
    root = tmp_path_factory.mktemp("tiny_glue")
    (root / "RTE").mkdir()
    rng = random.Random(0)
    for name, n in (("train.tsv", 40), ("dev.tsv", 16)):
        rows = ["index\tsentence1\tsentence2\tlabel"]
        rows += [
            f"{i}\t{_sentence(rng)}\t{_sentence(rng)}\t{rng.choice(['entailment', 'not_entailment'])}" for i in range(n)
        ]
        (root / "RTE" / name).write_text("\n".join(rows) + "\n")
    return root
