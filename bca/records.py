"""The run record: one JSON file per run, keyed by a hash of the resolved config, written atomically.

Why a hash: a rerun or a resumed sweep finds the finished run by its config alone and skips it, and two
parallel jobs never write the same file. Why atomic (temp file + fsync + ``os.replace``): a process killed
mid-write leaves either the old file or the new one, never half of one.

Schema (``SCHEMA_VERSION`` 1; documented in the README):
``run_id, status (ok|diverged|failed), config, metrics{epochs[], best}, params{adapter, head, trainable,
total}, flops, time{wall_s, train_s, steps, step_s}, memory{peak_rss_mb, peak_accelerator_mb},
versions, git{commit, dirty}, started_at, finished_at, error``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SCHEMA_VERSION = 1

# Keys that do not change what a run computes: excluded from the identity hash.
NON_IDENTITY_KEYS = ("logger", "results_dir", "experiment", "tags")
NON_IDENTITY_TRAINER_KEYS = ("progress", "log_every", "checkpoint_every", "eval_batch_size")

# Keys added after records were first committed, with the value that computes what runs did before the key
# existed: at that value a key is left out of the hash, so old records keep their ids (and are still skipped).
HASH_NEUTRAL_DEFAULTS = {
    ("trainer", "scheduler"): "linear",
    ("trainer", "grad_accum_steps"): 1,
    # instruction tasks' held-out response loss and forgetting (off: what runs measured before they existed)
    ("task", "heldout_loss_samples"): 0,
    ("task", "heldout_loss_every"): 0,
    ("task", "forgetting_samples"): 0,
    ("task", "forgetting_task"): "alpaca",
    ("task", "forgetting_data_dir"): None,
    ("task", "forgetting_hub_path"): None,
}

PAUSE_IN_WRITE_ENV = "BCA_FAULT_PAUSE_IN_RECORD_WRITE"
"""Fault injection for tests only: seconds to sleep half-way through writing a record's temp file, so a test
can SIGKILL the process mid-write and check that no corrupt record is left behind."""


class RecordError(ValueError):
    """A record file exists but cannot be read back (truncated, not JSON, wrong schema)."""


def run_id(config: dict) -> str:
    """A short stable hash of the parts of a resolved config that determine the result."""
    identity = {k: v for k, v in config.items() if k not in NON_IDENTITY_KEYS}
    if isinstance(identity.get("trainer"), dict):
        identity["trainer"] = {k: v for k, v in identity["trainer"].items() if k not in NON_IDENTITY_TRAINER_KEYS}
    for (section, key), neutral in HASH_NEUTRAL_DEFAULTS.items():
        part = identity.get(section)
        if isinstance(part, dict) and key in part and part[key] == neutral:
            identity[section] = {k: v for k, v in part.items() if k != key}
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def records_dir(results_dir: str | os.PathLike) -> Path:
    return Path(results_dir) / "records"


def record_path(results_dir: str | os.PathLike, rid: str) -> Path:
    return records_dir(results_dir) / f"{rid}.json"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers only ever see the old or the complete new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            pause = float(os.environ.get(PAUSE_IN_WRITE_ENV) or 0)
            if pause:
                fh.write(text[: len(text) // 2])
                fh.flush()
                time.sleep(pause)
                text = text[len(text) // 2 :]
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: Path, record: dict) -> None:
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def read_record(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"{path}: unreadable record ({type(err).__name__}: {err})") from err
    missing = [k for k in ("run_id", "status", "config") if not isinstance(record, dict) or k not in record]
    if missing:
        raise RecordError(f"{path}: not a run record (missing {', '.join(missing)})")
    return record


def finished(path: Path) -> bool:
    """True if a readable record with a final status is at ``path`` (so a sweep may skip that run)."""
    try:
        return read_record(path)["status"] in ("ok", "diverged")
    except (RecordError, FileNotFoundError):
        return False


def warn_damaged(path: Path, err: RecordError) -> None:
    print(f"[bca] warning: skipping damaged record {err}", file=sys.stderr)


def iter_records(
    directory: str | os.PathLike, on_damaged: Callable[[Path, RecordError], None] | None = warn_damaged
) -> Iterator[tuple[Path, dict]]:
    """Every readable record ``*.json`` under ``directory`` (recursively, stable order) as (path, record).

    A damaged file (truncated, not JSON, not a record) is reported through ``on_damaged`` (default: a warning
    on stderr) and skipped, so one bad file never stops a table from being built.
    """
    for path in sorted(Path(directory).rglob("*.json")):
        try:
            record = read_record(path)
        except RecordError as err:
            if on_damaged is not None:
                on_damaged(path, err)
            continue
        yield path, record
