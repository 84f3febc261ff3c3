"""Hydra glue: register the typed schemas and compose a run config. The only module that imports Hydra
(besides the CLI), so the library stays usable from plain Python."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from hydra.core.config_store import ConfigStore

from bca.config import schema
from bca.tasks.config import TaskConfig

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
"""configs/ at the repo root (the suite is installed editable: `pip install -e .`)."""

CONFIG_PATH_ENV = "BCA_CONFIG_PATH"
"""Extra config folders laid out like configs/ (``<dir>/method/ia3.yaml``), separated by ``os.pathsep``: Hydra
searches them after configs/, so a method (or model, task) is added without touching the checkout."""


def searchpath_overrides() -> list[str]:
    """The ``hydra.searchpath`` override for the folders in ``$BCA_CONFIG_PATH`` (none if it is unset)."""
    dirs = [d for d in os.environ.get(CONFIG_PATH_ENV, "").split(os.pathsep) if d]
    if not dirs:
        return []
    return ["hydra.searchpath=[" + ",".join(f"'file://{Path(d).resolve()}'" for d in dirs) + "]"]


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="schema_run", node=schema.RunConfig)
    cs.store(group="schema", name="model", node=schema.ModelConfig)
    cs.store(group="schema", name="trainer", node=schema.TrainerConfig)
    cs.store(group="schema", name="logger", node=schema.LoggerConfig)
    cs.store(group="schema", name="task", node=TaskConfig)
    from bca.methods import method_schemas  # one registration per method carries its schema

    for name, node in method_schemas().items():
        cs.store(group="schema/method", name=name, node=node)


@contextmanager
def composer(config_name: str = "run"):
    """Yield ``compose(overrides)`` inside one Hydra initialisation (many configs: one setup, not N)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_schemas()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        extra = searchpath_overrides()
        yield lambda overrides=None: hydra_compose(config_name=config_name, overrides=[*(overrides or []), *extra])


def compose(overrides: list[str] | None = None, config_name: str = "run"):
    """Compose a run config outside a Hydra app (tests, reproduce, count)."""
    with composer(config_name) as make:
        return make(overrides)
