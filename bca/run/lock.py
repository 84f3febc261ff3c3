"""One process per run: a lock file per run id, so two processes never train (and checkpoint) the same run.

Why: runs resume by config hash. Two `bca-reproduce` of the same table (two terminals, one per GPU with
CUDA_VISIBLE_DEVICES, a resubmitted cluster job while the first still runs) would otherwise both take the
first unfinished cell and overwrite each other's checkpoints. With the lock the second process skips that
cell and takes the next one, so N copies of the same command share a table between them.

The lock file (``<results_dir>/locks/<run id>.lock``) is created with O_EXCL, which is atomic, and holds the
host, boot id, pid and start time of its owner. A lock left by a process that is gone (killed with SIGKILL,
or from before a reboot) is stale and is taken over with a note. A lock from another host cannot be checked
from here: it is honoured, and the error names the file to delete if that job is known to be dead.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
STALE_EMPTY_S = 30  # an empty lock older than this lost its owner between create and write


class RunLocked(RuntimeError):
    """The run is being trained by another live process."""


def lock_path(results_dir, run_id: str) -> Path:
    return Path(results_dir) / "locks" / f"{run_id}.lock"


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:  # not Linux: pid liveness alone decides
        return None


def _owner() -> dict:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"host": socket.gethostname(), "boot_id": _boot_id(), "pid": os.getpid(), "started_at": started}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def owner_is_gone(owner: dict) -> bool:
    """True only when we can tell: same host, and a reboot since or a pid that no longer exists."""
    if owner.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if boot and owner.get("boot_id") and owner["boot_id"] != boot:
        return True
    return not _pid_alive(int(owner.get("pid", -1)))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # vanished, or half-written by an owner killed mid-write
        return None


def _create(path: Path, owner: dict) -> bool:
    for _ in range(3):  # the locks folder may be removed (empty) by a releasing process in between
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            return False
        except FileNotFoundError:
            continue
    else:
        raise OSError(f"cannot create {path}: its folder keeps disappearing")
    with os.fdopen(fd, "w") as f:
        json.dump(owner, f)
    return True


def acquire(results_dir, run_id: str) -> Path:
    """Take the run's lock or raise RunLocked naming its live owner."""
    path = lock_path(results_dir, run_id)
    owner = _owner()
    for _ in range(3):  # a stale lock is removed and the create retried; a racing process may win it
        if _create(path, owner):
            return path
        held = _read(path)
        if held is None:  # vanished (retry), being written right now, or its owner died between create and write
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < STALE_EMPTY_S:
                raise RunLocked(f"run {run_id}: another process is taking {path} right now")
            path.unlink(missing_ok=True)
            continue
        if not owner_is_gone(held):
            raise RunLocked(
                f"run {run_id} is being trained by pid {held.get('pid')} on {held.get('host')} "
                f"(since {held.get('started_at')}); wait for it, or if that process is dead, delete {path}"
            )
        print(f"[bca] taking over the stale lock {path}: pid {held.get('pid')} on {held.get('host')} is gone")
        if _read(path) == held:  # still the same stale owner: nobody took it over in between
            path.unlink(missing_ok=True)
    raise RunLocked(f"run {run_id}: could not take {path} (another process keeps taking it); try again")


@contextmanager
def hold(results_dir, run_id: str, enabled: bool = True):
    """The run's lock for the duration of the block; released on any exit but SIGKILL (then it goes stale)."""
    if not enabled:  # non-main processes of a multi-process run: the main process holds it for all
        yield None
        return
    path = acquire(results_dir, run_id)
    try:
        yield path
    finally:
        held = _read(path) or {}
        # Only our own lock is removed: never one that another process took over meanwhile.
        if held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
            path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # leave no empty locks/ folder in a results directory
        except OSError:
            pass  # other runs' locks are in it
