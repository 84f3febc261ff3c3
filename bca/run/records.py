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
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bca.run.disk import DiskFull, is_disk_full

SCHEMA_VERSION = 1

# Keys that do not change what a run computes: excluded from the identity hash.
NON_IDENTITY_KEYS = ("logger", "results_dir", "experiment", "tags")
NON_IDENTITY_TRAINER_KEYS = ("progress", "log_every", "checkpoint_every", "eval_batch_size")

# Keys added after records were first committed, with the value that computes what runs did before the key
# existed: at that value a key is left out of the hash, so old records keep their ids (and are still skipped).
HASH_NEUTRAL_DEFAULTS = {
    ("trainer", "scheduler"): "linear",
    ("trainer", "grad_accum_steps"): 1,
    ("trainer", "group_by_length"): False,
    ("model", "head_modules"): ["classifier", "score"],  # before: only these heads trained (MiniLM's pooler frozen)
    ("task", "holdout"): None,
    ("task", "holdout_seed"): 0,
    # instruction tasks' held-out response loss and forgetting (off: what runs measured before they existed)
    ("task", "heldout_loss_samples"): 0,
    ("task", "heldout_loss_every"): 0,
    ("task", "forgetting_samples"): 0,
    ("task", "forgetting_task"): "alpaca",
    ("task", "forgetting_data_dir"): None,
    ("task", "forgetting_hub_path"): None,
    ("task", "generate"): True,  # instruction tasks always generated before the key existed
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
    """Write ``text`` to ``path`` so that readers only ever see the old or the complete new content.

    A full disk raises ``bca.run.disk.DiskFull`` (one line; the old content is untouched)."""
    try:
        _write_atomic(path, text)
    except OSError as err:
        if is_disk_full(err, path.parent):
            raise DiskFull(path) from err
        raise


def _stale_temps(path: Path) -> list[Path]:
    """Temp files of earlier writes of ``path`` left by a process killed mid-write."""
    return list(path.parent.glob(f".{path.name}.*.tmp"))


def _write_atomic(path: Path, text: str) -> None:
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


def strict_json(value):
    """``value`` with every NaN/inf float replaced by None: JSON has no NaN, and other tools reject the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def write_record(path: Path, record: dict) -> None:
    """Write a record atomically, as strict JSON. The caller holds the run's lock (bca.run.lock), so any other
    temp file of this record is a leftover of a process killed mid-write: it is removed."""
    text = json.dumps(strict_json(record), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    path = Path(path)
    stale = _stale_temps(path) if path.parent.is_dir() else []
    write_atomic(path, text)
    for tmp in stale:
        tmp.unlink(missing_ok=True)


STATUSES = ("ok", "diverged", "failed")
_ABSENT = object()
_NUMBER = (int, float)
REQUIRED: tuple[tuple[str, tuple], ...] = (
    ("run_id", (str,)),
    ("status", (str,)),
    ("config", (dict,)),
    ("config.model", (dict,)),
    ("config.model.name", (str,)),
    ("config.method", (dict,)),
    ("config.method.name", (str,)),
    ("config.task", (dict,)),
    ("config.task.name", (str,)),
    ("config.task.max_train_samples", (int, type(None))),
    ("config.trainer", (dict,)),
    ("config.trainer.seed", (int,)),
    ("config.trainer.epochs", (int,)),
    ("config.trainer.max_steps", (int, type(None))),
    ("params", (dict,)),
    ("params.adapter", (int,)),
    ("metrics", (dict, type(None))),
    ("time", (dict, type(None))),
    ("config.tags", (list,)),
)
"""Dotted path -> allowed types: what the readers (bca.report, bca-reproduce) rely on. A record
always has them (the runner writes config and params before training starts), except the OPTIONAL ones."""
OPTIONAL = ("metrics", "time", "config.tags")  # e.g. absent from the records of runs that failed early


def dotted_get(node, dotted: str, default=None):
    """``node["a"]["b"]`` for ``"a.b"``, or ``default`` where a part is missing (records, their configs)."""
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _get(record, dotted: str):
    return dotted_get(record, dotted, _ABSENT)


def _is(value, types: tuple) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def record_problems(record) -> list[str]:
    """What is wrong with a parsed record (empty: the readers can use it). The one schema check, on read."""
    if not isinstance(record, dict):
        return [f"a JSON {type(record).__name__}, not an object"]
    problems = []
    for dotted, types in REQUIRED:
        value = _get(record, dotted)
        if value is _ABSENT:
            if dotted in OPTIONAL:
                continue
            if "." not in dotted or isinstance(_get(record, dotted.rsplit(".", 1)[0]), dict):
                problems.append(f"missing {dotted}")  # (under a missing or mistyped parent: that is reported)
        elif not _is(value, types):
            problems.append(f"{dotted} is a {type(value).__name__}, expected {'/'.join(t.__name__ for t in types)}")
    if not problems and record["status"] not in STATUSES:
        problems.append(f"status {record['status']!r} is not one of {', '.join(STATUSES)}")
    if problems:
        return problems
    metrics, step_s = record.get("metrics"), _get(record, "time.step_s")
    if step_s is not _ABSENT and not _is(step_s, _NUMBER):
        problems.append(f"time.step_s is a {type(step_s).__name__}, expected a number")
    if record["status"] == "ok":
        name = _get(record, "metrics.metric_for_best")
        if not isinstance(name, str):
            return problems + ["status ok but no metrics.metric_for_best"]
        if not _is(_get(record, f"metrics.best.eval.{name}"), _NUMBER):
            problems.append(f"status ok but metrics.best.eval has no number for {name}")
    epochs = (metrics or {}).get("epochs", [])
    if not isinstance(epochs, list) or not all(
        isinstance(e, dict) and _is(e.get("epoch"), (int,)) and isinstance(e.get("eval"), dict) for e in epochs
    ):
        problems.append("metrics.epochs is not a list of {epoch, eval{...}} objects")
    return problems


def read_record(path: Path) -> dict:
    """Parse and check a record file; ``RecordError`` says what is wrong with a damaged one."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"{path}: unreadable record ({type(err).__name__}: {err})") from err
    problems = record_problems(record)
    if problems:
        raise RecordError(f"{path}: not a valid run record ({'; '.join(problems)})")
    return record


def finished_record(path: Path) -> dict | None:
    """The readable record with a final status at ``path``, or None (missing, damaged, failed or running)."""
    try:
        record = read_record(path)
    except (RecordError, FileNotFoundError):
        return None
    return record if record["status"] in ("ok", "diverged") else None


def finished(path: Path) -> bool:
    """True if a readable record with a final status is at ``path`` (so a sweep may skip that run)."""
    return finished_record(path) is not None


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
