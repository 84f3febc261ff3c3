"""A full disk, said in one line: where, how much is free, and that nothing complete was lost.

When the disk fills during a checkpoint, torch reports ``basic_ios::clear: iostream error`` (no errno), then
accelerate, our save and the runner each add a traceback around it. Every write we do is atomic (a temp file
or folder renamed when complete, removed on failure), so the previous checkpoint and every record are intact
and a rerun resumes: the user needs that sentence and where to free space, not four tracebacks.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
NEARLY_FULL_BYTES = 16 * 2**20
"""A write error with less than this free where we wrote counts as a full disk (torch's errors carry no errno)."""


class DiskFull(OSError):
    """Writing ``where`` failed because its disk (or quota) is full; nothing already complete was touched."""

    def __init__(self, where: Path | str, kept: str | None = None):
        self.where = Path(where)
        free = free_bytes(self.where)
        shown = f"{free / 2**20:.1f} MiB free" if free is not None else "free space unknown"
        keep = f"; the last complete checkpoint {kept} and" if kept else "; the checkpoints and"
        super().__init__(
            errno.ENOSPC,
            f"disk full while writing {self.where} ({shown} there){keep} every record are intact, nothing "
            "was lost: free some space (or choose another results_dir) and run the same command again to resume",
        )

    def __str__(self) -> str:
        return self.strerror


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _chain(err: BaseException):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def is_disk_full(err: BaseException, where: Path | str) -> bool:
    """True if ``err`` (raised while writing ``where``) means the disk is full: ENOSPC/EDQUOT anywhere in its
    chain, or a write error while almost nothing is free there."""
    if any(isinstance(e, OSError) and e.errno in FULL_ERRNOS for e in _chain(err)):
        return True
    if not isinstance(err, Exception):  # KeyboardInterrupt, SystemExit: not a write error
        return False
    free = free_bytes(Path(where))
    return free is not None and free < NEARLY_FULL_BYTES
