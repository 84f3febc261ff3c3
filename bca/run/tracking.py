"""wandb logging (offline by default) behind a tiny interface; only the main process logs.

Runs of one experiment share a wandb group; tags carry method/task/model so dashboards can slice by them.
Offline runs land in ``<logger.dir>/wandb/offline-run-*`` and can be uploaded later with ``wandb sync``.
"""

from __future__ import annotations

import os

from bca.config.schema import logger_enabled


class Tracker:
    def __init__(self, run=None):
        self.run = run

    def log(self, values: dict, step: int) -> None:
        if self.run is not None:
            self.run.log(values, step=step)

    def summary(self, values: dict) -> None:
        if self.run is not None:
            for key, value in values.items():
                self.run.summary[key] = value

    def finish(self, exit_code: int = 0) -> None:
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
            self.run = None

    @property
    def directory(self) -> str | None:
        return self.run.dir if self.run is not None else None


def run_name(config: dict) -> str:
    return f"{config['method']['name']}-{config['task']['name']}-{config['model']['name']}-s{config['trainer']['seed']}"


def start(logger_cfg, config: dict, run_id: str, is_main: bool) -> Tracker:
    if not logger_enabled(logger_cfg) or not is_main:
        return Tracker()
    import wandb

    os.makedirs(logger_cfg.dir, exist_ok=True)
    run = wandb.init(
        project=logger_cfg.project,
        mode=logger_cfg.mode,
        dir=logger_cfg.dir,
        name=run_name(config),
        group=config.get("experiment"),
        tags=[
            f"method:{config['method']['name']}",
            f"task:{config['task']['name']}",
            f"model:{config['model']['name']}",
            *config.get("tags", []),
        ],
        config={**config, "run_id": run_id},
        id=run_id,
        resume="allow",
        settings=wandb.Settings(silent=True, console="off"),
        reinit="create_new",
    )
    return Tracker(run)
