"""Crash injection for resume tests: the run raises right after a chosen optimiser step, before it is checkpointed."""

from __future__ import annotations

from bca.run import tracking


class Crash(Exception):
    """Stands in for the machine going away."""


def crash_at(monkeypatch, step: int, error: BaseException | None = None) -> None:
    """Make the run's tracker raise ``error`` (default a ``Crash``) when the loop logs ``step``: the step has been
    trained, not checkpointed. A ``KeyboardInterrupt`` there stands in for Ctrl-C."""
    start = tracking.start

    def start_crashing(*args, **kwargs):
        tracker = start(*args, **kwargs)
        log = tracker.log

        def log_or_crash(values, step=None):
            if step == crash_step:
                raise error if error is not None else Crash(f"crash after step {step}")
            log(values, step=step)

        tracker.log = log_or_crash
        return tracker

    crash_step = step
    monkeypatch.setattr("bca.run.runner.tracking.start", start_crashing)
