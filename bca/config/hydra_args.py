"""Reading a ``bca-run`` command line as ``@hydra.main`` will, and everything wrong with it, before it runs.

Hydra has no public API for its command-line parser; ``hydra_args`` is the one place that uses the private
``hydra._internal.utils.get_args_parser`` (what ``@hydra.main`` itself calls), and
``tests/test_hydra_args.py`` fails with a clear message when a Hydra upgrade changes it.
"""

from __future__ import annotations

import argparse

from bca.config.hydra_app import composer
from bca.config.hydra_overrides import command_line_jobs
from bca.config.preflight import job_problems

HYDRA_FLAGS = (
    "help", "hydra_help", "cfg", "info", "shell_completion", "experimental_rerun", "config_path", "config_dir",
    "config_name", "multirun", "overrides",
)  # fmt: skip
"""The attributes of Hydra's parsed arguments this module reads."""


def hydra_args(argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by Hydra's own parser (private API: hydra-core 1.3's ``get_args_parser``)."""
    try:
        from hydra._internal.utils import get_args_parser

        args, _ = get_args_parser().parse_known_args(argv)
    except (ImportError, AttributeError, TypeError) as err:
        raise RuntimeError(f"Hydra's private get_args_parser changed ({err}): update bca/config/hydra_args.py") from err
    missing = [name for name in HYDRA_FLAGS if not hasattr(args, name)]
    if missing:
        raise RuntimeError(f"Hydra's parsed arguments lack {missing}: update bca/config/hydra_args.py")
    return args


def command_line_problems(argv: list[str]) -> list[str]:
    """Everything wrong with a ``bca-run`` command line, found before anything runs.

    Composition problems of every override (every value of a sweep), then, for a sweep, the runner's checks
    (data, model source, block sizes, target modules, trainer) on every job. A single run gets those from the
    runner itself, so it is not loaded twice.
    """
    args = hydra_args(argv)
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion or args.experimental_rerun:
        return []  # Hydra's own modes: nothing runs
    if args.config_path or args.config_dir:
        return []  # another config tree: leave it to Hydra
    config_name = args.config_name or "run"
    problems, jobs, multirun = command_line_jobs(args.overrides, config_name)
    if problems or not (multirun or args.multirun):
        return problems
    common = set.intersection(*(set(job) for job in jobs)) if jobs else set()
    with composer(config_name) as make:
        composed = [([line for line in job if line not in common], make(job)) for job in jobs]
    return job_problems(composed)
