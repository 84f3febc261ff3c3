"""Check every job of a sweep before the first one starts: a bad value found at job 37 costs a night.

Runs the runner's own checks (``bca.runner.prepare``: task data, model source, block sizes, target modules,
trainer settings) on each job's config, loading each distinct task's data and building each distinct
(model, method) on the meta device only once. Takes plain configs: no Hydra here.
"""

from __future__ import annotations

import json

from omegaconf import OmegaConf


def _key(node) -> str:
    return json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True, default=str)


def job_problems(jobs: list[tuple[list[str], object]]) -> list[str]:
    """Every problem of every ``(overrides, config)`` job, each message prefixed by the jobs it applies to.

    ``overrides`` are the job's sweep values (what tells it apart from the other jobs)."""
    from bca.tasks.registry import load_task
    from bca.validate import ConfigProblems, check_run

    labels: dict[str, list[int]] = {}  # message -> the jobs it applies to
    tasks: dict[str, tuple[int | None, str | None]] = {}  # task config -> (num_labels, problem)
    runs: dict[str, list[str]] = {}  # (model, method, trainer, num_labels) -> problems
    for index, (_, cfg) in enumerate(jobs):
        task_key = _key(cfg.task)
        if task_key not in tasks:
            try:
                tasks[task_key] = (load_task(cfg.task).num_labels, None)  # None for causal LM tasks
            except ValueError as err:  # TaskDataError: missing files, hub offline, bad columns
                tasks[task_key] = (2, str(err))
        num_labels, task_problem = tasks[task_key]
        found = [task_problem] if task_problem else []
        run_key = _key(cfg.model) + _key(cfg.method) + _key(cfg.trainer) + str(num_labels)
        if run_key not in runs:
            try:
                check_run(cfg, num_labels=num_labels)
                runs[run_key] = []
            except ConfigProblems as err:
                runs[run_key] = err.problems
        found += runs[run_key]
        for message in found:
            labels.setdefault(message, []).append(index)
    return [
        _with_labels(message, [jobs[i][0] for i in where], [job for job, _ in jobs])
        for message, where in labels.items()
    ]


def _with_labels(message: str, where: list[list[str]], every: list[list[str]]) -> str:
    """Prefix ``message`` with the sweep values that select exactly the jobs in ``where`` (else list them)."""
    if len(where) == len(every):
        return message if len(every) == 1 else f"[every job] {message}"
    shared = [line for line in where[0] if all(line in job for job in where)]
    if shared and sum(all(line in job for line in shared) for job in every) == len(where):
        return f"[{' '.join(shared)}] {message}"
    shown = "; ".join(" ".join(job) for job in where[:3])
    return f"[{shown}{f' and {len(where) - 3} more jobs' if len(where) > 3 else ''}] {message}"
