"""One process per run: an OS lock per run id, so two processes never train (and checkpoint) the same run.

Why: runs resume by config hash. Two `bca-reproduce` of the same table (two terminals, one per GPU with
CUDA_VISIBLE_DEVICES, a resubmitted cluster job while the first still runs) would otherwise both take the
first unfinished cell and overwrite each other's checkpoints. With the lock the second process skips that
cell and takes the next one, so N copies of the same command share a table between them.

The lock is ``filelock``'s OS lock (``flock``) on ``<results_dir>/locks/<run id>.lock``: the kernel releases
it when its owner exits, however it exits (SIGKILL, a crash, a reboot), so a dead owner's lock is simply free
again and pid reuse cannot fool it. The file also holds its owner's host, pid and start time, written through
the locked descriptor, so a blocked process can say who holds the run. Over NFS the lock is the server's
(Linux maps ``flock`` to NFS byte-range locks), but a client that dies keeps it until its lease expires; and
a lock file that names another host whose owner did not release it (killed there, a filesystem without
cross-host locks) is honoured: the error names the file to delete if that job is known to be dead.
"""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout


class RunLocked(RuntimeError):
    """The run is being trained by another live process."""


def lock_path(results_dir, run_id: str) -> Path:
    return Path(results_dir) / "locks" / f"{run_id}.lock"


def _owner() -> dict:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": started}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # vanished, empty (its owner is writing it right now) or not ours
        return None


def _is_ours(held: dict | None) -> bool:
    return bool(held) and held.get("pid") == os.getpid() and held.get("host") == socket.gethostname()


def _locked_by_someone(run_id: str, path: Path) -> RunLocked:
    held = _read(path)
    if held is None:
        return RunLocked(f"run {run_id}: another process is taking {path} right now")
    return RunLocked(
        f"run {run_id} is being trained by pid {held.get('pid')} on {held.get('host')} "
        f"(since {held.get('started_at')}); wait for it, or if that process is dead, delete {path}"
    )


def acquire(results_dir, run_id: str) -> tuple[FileLock, Path]:
    """Take the run's lock (never waiting) or raise RunLocked naming its owner."""
    path = lock_path(results_dir, run_id)
    opened: list[os.stat_result] = []  # the inode each acquire locked (filelock hands us the descriptor)
    for _ in range(3):  # a releasing owner may unlink the file between our open and our lock: retry
        lock = FileLock(path, timeout=0, on_acquired=lambda fd: opened.append(os.fstat(fd)))
        try:
            lock.acquire()
        except Timeout:
            raise _locked_by_someone(run_id, path) from None
        try:
            same_file = os.path.samestat(opened[-1], os.stat(path))
        except FileNotFoundError:
            same_file = False
        if not same_file:  # we locked an unlinked inode: not the run's lock
            lock.release()
            continue
        held = _read(path)
        if held and held.get("host") != socket.gethostname():
            lock.release()  # its owner's OS lock lives on another machine: honour the file
            raise RunLocked(
                f"run {run_id} is being trained by pid {held.get('pid')} on {held.get('host')} "
                f"(since {held.get('started_at')}); if that job is known to be dead, delete {path}"
            )
        if held:
            print(f"[bca] taking over the stale lock {path}: pid {held.get('pid')} on {held.get('host')} is gone")
        path.write_text(json.dumps(_owner()))  # we hold the OS lock: nobody else writes this file now
        return lock, path
    raise RunLocked(f"run {run_id}: could not take {path} (other processes keep taking it); try again")


@contextmanager
def hold(results_dir, run_id: str, enabled: bool = True):
    """The run's lock for the duration of the block; the kernel frees it if the process dies instead."""
    if not enabled:  # non-main processes of a multi-process run: the main process holds it for all
        yield None
        return
    lock, path = acquire(results_dir, run_id)
    try:
        yield path
    finally:
        # Unlinked while still locked, so a process that opens it now finds no file or a fresh one (acquire
        # checks the inode); only a file that still names us is removed.
        if _is_ours(_read(path)):
            path.unlink(missing_ok=True)
        lock.release()
        try:
            path.parent.rmdir()  # leave no empty locks/ folder in a results directory
        except OSError:
            pass  # other runs' locks are in it
