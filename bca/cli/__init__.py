"""Console entry points (bca-run, bca-count, bca-table, bca-reproduce): argument parsing lives here only.

Each command is one small module next to this one (``bca_run``, ``bca_count``, ``bca_table``,
``bca_reproduce``); the functions below are the ``[project.scripts]`` targets and import their command
lazily, so ``bca-table`` never loads Hydra or torch. May import anything in ``bca``; nothing imports it.
"""

from __future__ import annotations

import sys

from bca.cli.exit_codes import (  # noqa: F401 (the commands' shared exit statuses)
    EXIT_DISK_FULL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_RUN_FAILED,
)


def run() -> None:
    """bca-run model=<m> method=<x> task=<t> [overrides]: one run -> one record (README "Running")."""
    from bca.cli.bca_run import main

    main()


def count() -> None:
    """bca-count model=<m> method=<x> [method.*=...]: trainable parameters and FLOPs, no weights needed."""
    from bca.cli.bca_count import main

    sys.exit(main(sys.argv[1:]))


def table() -> None:
    """bca-table <records dir> [--format md|csv|tex]: records -> a paper-style table."""
    from bca.cli.bca_table import main

    sys.exit(main(sys.argv[1:]))


def reproduce() -> None:
    """bca-reproduce <experiment> [overrides]: every cell of a paper table, resuming finished runs."""
    from bca.cli.bca_reproduce import main

    sys.exit(main(sys.argv[1:]))
