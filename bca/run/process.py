"""Which process of a distributed launch this is, read without torch (``bca-run``'s config check stays light).

``accelerate launch`` / ``torchrun`` set ``RANK`` in every process; a plain ``python`` run has none and is
the main process. Only the main process prints summaries, holds the run lock and writes records.
"""

from __future__ import annotations

import os


def is_main_process() -> bool:
    """True on rank 0 and outside a distributed launch."""
    return os.environ.get("RANK", "0") == "0"
