"""Check every job of a sweep (every cell of a paper table) before the first one starts: a bad value found at
job 37 costs a night.

Runs the runner's own checks (``bca.run.runner.prepare``: task data, model source, block sizes, target modules,
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
    from bca.config.validate import ConfigProblems, check_run
    from bca.tasks.registry import load_task

    labels: dict[str, list[int]] = {}  # message -> the jobs it applies to
    tasks: dict[str, tuple[int | None, str | None]] = {}  # task config -> (num_labels, problem)
    for index, (_, cfg) in enumerate(jobs):
        task_key = _key(cfg.task)
        if task_key not in tasks:
            try:
                tasks[task_key] = (load_task(cfg.task).num_labels, None)  # None for causal LM tasks
            except ValueError as err:  # TaskDataError: missing files, hub offline, bad columns
                tasks[task_key] = (2, str(err))
        num_labels, task_problem = tasks[task_key]
        found = [task_problem] if task_problem else []
        try:  # cheap per job; the model's shapes are built once per (model, method) (bca.config.validate memoises)
            check_run(cfg, num_labels=num_labels)
        except ConfigProblems as err:
            found += err.problems
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


def cell_problems(composed) -> list[str]:
    """Every problem of a reproduction's cells, ``(cell, config, record path)`` as ``bca-reproduce`` composes
    them: the overrides composition let through (``hydra_overrides.override_problems``), then the runner's checks
    on every cell (data present, block sizes, values, results_dir), labelled by the row/task/seed they hit."""
    from bca.config.hydra_overrides import override_problems

    problems: list[str] = []
    for cell, cfg, _ in composed:
        for message in override_problems(cfg, list(cell.overrides)):
            if message not in problems:
                problems.append(message)
    jobs = [
        ([f"row={cell.row}", f"task={cell.task}", f"seed={cell.seed}", f"model={cfg.model.name}"], cfg)
        for cell, cfg, _ in composed
    ]  # the model too: a hub model offline is then "[model=roberta-base] ...", not a list of 120 cells
    return problems + job_problems(jobs)
