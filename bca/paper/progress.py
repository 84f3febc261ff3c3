"""How much of an experiment is done and roughly what the rest costs: the line a long table's notes need.

A table spans working sessions, so each note has to say how many runs are done and how many remain; this
counts them from the records and prices each remaining run at the median recorded training time
(``time.train_s``) of finished runs of the same method on the same task, else of any method on that task.
The figure is in the finished runs' own seconds (their machine, their load): a planning number, not a promise.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from bca.run import records


def _key(cfg) -> tuple[str, str]:
    return str(cfg["method"]["name"]), str(cfg["task"]["name"])


def summary(composed, pending: list[tuple[str, str, int]] = ()) -> str:
    """One line: finished / total and the estimated time left.

    ``composed``: (cell, cfg, path) of the composed cells; ``pending``: (method, task, count) of runs not
    composed yet (a tuned row's seeds before its grid is decided).
    """
    by_pair, by_task = defaultdict(list), defaultdict(list)
    todo: list[tuple[str, str]] = []
    done = 0
    for _, cfg, path in composed:
        rec = records.finished_record(path)
        if rec is None:
            todo.append(_key(cfg))
            continue
        done += 1
        seconds = (rec.get("time") or {}).get("train_s")
        if seconds:
            by_pair[_key(rec["config"])].append(float(seconds))
            by_task[_key(rec["config"])[1]].append(float(seconds))
    todo += [(method, task) for method, task, n in pending for _ in range(n)]
    total = done + len(todo)
    seconds, unknown = 0.0, 0
    for method, task in todo:
        known = by_pair.get((method, task)) or by_task.get(task)
        if known:
            seconds += statistics.median(known)
        else:
            unknown += 1
    line = f"{done} of {total} runs finished, {len(todo)} to run"
    if todo:
        line += f": ~{seconds / 3600:.1f} h at the finished runs' training times"
        line += f" ({unknown} run(s) with no finished run of their task to price them)" if unknown else ""
    return line
