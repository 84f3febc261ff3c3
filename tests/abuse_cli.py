"""The CLI as the abuse tests drive it: the issue's base run, ``bca-run`` in-process, "the reason is on one line"."""

from __future__ import annotations

import sys
from pathlib import Path

from bca import cli
from bca.paper.experiments import merge_overrides


def base(tiny_glue: Path) -> list[str]:
    """The issue's ``B``: tiny-roberta + BCA on RTE, 32 rows, 4 steps, no wandb."""
    return [
        "model=tiny-roberta", "method=bca", "task=rte", f"task.data_dir={tiny_glue}", "task.max_train_samples=32",
        "task.max_eval_samples=16", "trainer.batch_size=8", "trainer.max_steps=4", "trainer.max_length=32",
        "trainer.progress=false", "logger=disabled",
    ]  # fmt: skip


def bca_run(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """``bca-run argv`` in this process: (exit status, stderr). A later ``key=value`` replaces an earlier one."""
    flags = [a for a in argv if "=" not in a]
    monkeypatch.setattr(sys, "argv", ["bca-run", *flags, *merge_overrides([a for a in argv if "=" in a])])
    try:
        cli.run()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    return code, capsys.readouterr().err


def one_line_with(text: str, *words: str) -> str:
    """The line of ``text`` holding every word (the reason must fit on one line, not span a traceback)."""
    lines = [line for line in text.splitlines() if all(w in line for w in words)]
    assert lines, f"no line holds all of {words}:\n{text}"
    return lines[0]
