"""Checking a command line's overrides before anything runs: every override, every value of a sweep.

Hydra stops at the first bad override, and in a sweep only when the bad job's turn comes. These functions try
every override (every value of a sweep) on its own, so all problems come out at once, in about a second.
"""

from __future__ import annotations

import math
from pathlib import Path

from bca.config.hydra_app import CONFIG_DIR, composer, searchpath_overrides

MAX_SWEEP_JOBS_CHECKED = 64
"""Sweeps up to this many jobs are checked job by job; larger ones value by value (each value once)."""


def _group_names() -> set[str]:
    return {p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir()}


def _lines(override) -> list[str] | None:
    """The single-valued override lines of one override (a sweep expanded); None for a glob (not checked)."""
    if not override.is_sweep_override():
        return [override.input_line]
    if "glob(" in override.input_line:
        return None
    return [f"{override.get_key_element()}={v}" for v in override.sweep_string_iterator()]


def _explain(err: Exception, line: str) -> str:
    """One actionable line for a composition error (Hydra's messages span ten lines of search paths)."""
    import dataclasses
    import difflib

    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    cause = err.__cause__ or err
    if isinstance(err, MissingConfigException) and getattr(err, "options", None):
        group, _, value = (err.missing_cfg_file or line).rpartition("/")
        close = difflib.get_close_matches(value, err.options, n=1)
        hint = f"; did you mean {group}={close[0]}?" if close else ""
        return f"{line}: there is no {group} {value!r}{hint} (valid {group} values: {', '.join(err.options)})"
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and getattr(cause, "key", None) is not None:
        key, full = str(cause.key), str(cause.full_key)
        parent = full.rsplit(".", 1)[0] if "." in full else "the run config"
        owner = getattr(cause, "object_type", None)
        if owner is dict:
            return f"{line}: {full} does not exist; to add a new key write +{line.lstrip('+')}"
        valid = [f.name for f in dataclasses.fields(owner)] if dataclasses.is_dataclass(owner) else []
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"; did you mean {parent + '.' if '.' in full else ''}{close[0]}?" if close else ""
        schema = f" ({owner.__name__})" if owner else ""
        return f"{line}: unknown key {key!r} in {parent}{schema}{hint}" + (
            f" (valid keys: {', '.join(valid)})" if valid else ""
        )
    if isinstance(cause, ValidationError):
        return f"{line}: {str(cause).splitlines()[0]}"
    return f"{line}: {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


def _unknown_additions(cfg, lines: list[str]) -> list[str]:
    """``+trainer.x=1`` is accepted by Hydra even on a typed group; for us it is an unknown key like any other."""
    import dataclasses

    from omegaconf import OmegaConf

    problems = []
    for line in lines:
        if not line.startswith("+") or "=" not in line:
            continue
        path = line.lstrip("+").split("=", 1)[0]
        parent, _, key = path.rpartition(".")
        owner = OmegaConf.get_type(OmegaConf.select(cfg, parent) if parent else cfg)
        if dataclasses.is_dataclass(owner) and key not in {f.name for f in dataclasses.fields(owner)}:
            valid = ", ".join(f.name for f in dataclasses.fields(owner))
            problems.append(f"{line}: unknown key {key!r} in {parent or 'the run config'} (valid keys: {valid})")
    return problems


def _bool_fields(owner) -> set[str]:
    """Fields of a schema dataclass typed ``bool`` (or ``bool | None``)."""
    import dataclasses
    import typing

    if not dataclasses.is_dataclass(owner):
        return set()
    hints = typing.get_type_hints(owner)
    return {name for name, hint in hints.items() if hint is bool or set(typing.get_args(hint)) == {bool, type(None)}}


def _loose_bools(cfg, lines: list[str]) -> list[str]:
    """OmegaConf turns ``2``, ``yes`` or ``0`` into a bool for a bool field: a typo that silently flips a switch.
    Only ``true``/``false`` are taken."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    problems = []
    parser = OverridesParser.create()
    for line in lines:
        try:
            (override,) = parser.parse_overrides([line])
        except Exception:  # noqa: BLE001 - not an override we can read back (reported elsewhere)
            continue
        path = override.key_or_group.lstrip("+~")
        parent, _, key = path.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not OmegaConf.is_config(node) or key not in _bool_fields(OmegaConf.get_type(node)):
            continue
        value = override.value()
        if not isinstance(value, bool) and value is not None:
            problems.append(f"{line}: {path} is a switch: write true or false (got {value!r})")
    return problems


def override_problems(cfg, lines: list[str]) -> list[str]:
    """What composing ``lines`` into ``cfg`` accepted but should not have: new keys on typed groups, non-bool
    values for switches."""
    return _unknown_additions(cfg, lines) + _loose_bools(cfg, lines)


def _try(make, overrides: list[str], line: str, problems: list[str]):
    """Compose (with ``make`` from ``composer``) and resolve ``overrides``; on failure add the explanation of
    ``line`` to ``problems``."""
    from omegaconf import OmegaConf

    try:
        cfg = make(overrides)
        OmegaConf.to_container(cfg, resolve=True)
    except Exception as err:  # any composition/interpolation error is a config problem to report
        message = _explain(err, line)
        if message not in problems:
            problems.append(message)
        return None
    last = overrides[-1:] if overrides and line.startswith(overrides[-1]) else []  # the override being tried
    for message in override_problems(cfg, last):
        message = line + message[len(last[0]) :]  # labelled like the composition problems ("... (with method=x)")
        if message not in problems:
            problems.append(message)
    return cfg


def _hydra_settings(lines: list[str], config_name: str) -> tuple[bool, dict]:
    """(multirun?, sweeper params) as the composed config sets them (``sweep=...`` turns multirun on).
    Called inside ``composer``."""
    from hydra import compose as hydra_compose
    from hydra.types import RunMode

    cfg = hydra_compose(config_name=config_name, overrides=[*lines, *searchpath_overrides()], return_hydra_config=True)
    return cfg.hydra.mode == RunMode.MULTIRUN, dict(cfg.hydra.sweeper.get("params") or {})


def _composes_cleanly(make, lines: list[str], config_name: str) -> bool:
    """True for a single run whose overrides compose and resolve together, with nothing for
    ``override_problems`` and no sweep in the config: trying each override alone (to pin down which one is
    wrong) would find nothing, and costs a composition per override (~0.2 s each)."""
    from omegaconf import OmegaConf

    try:
        cfg = make(lines)
        OmegaConf.to_container(cfg, resolve=True)
        multirun, params = _hydra_settings(lines, config_name)
    except Exception:  # noqa: BLE001 - any problem: the full check below reports it
        return False
    return not multirun and not params and not override_problems(cfg, lines)


def command_line_jobs(overrides: list[str], config_name: str = "run") -> tuple[list[str], list[list[str]], bool]:
    """(problems, jobs, multirun): every composition problem of these command-line overrides; the override
    lists of the jobs to check further (all jobs of a small sweep, each value once for a large one); and
    whether the config itself asks for a multirun.

    Sweep values given in the config (``hydra.sweeper.params``, e.g. ``sweep=bca_block_size``) count too; as in
    Hydra, a key given on the command line replaces the config's list.
    """
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(list(overrides))
    except Exception as err:  # Hydra's own syntax error: already one clear line
        return [f"command line: {str(err).splitlines()[0]}"], [], False
    hydra_lines = [o.input_line for o in parsed if o.is_hydra_override()]
    ours = [(o, _lines(o)) for o in parsed if not o.is_hydra_override()]
    groups = _group_names()
    problems: list[str] = []
    with composer(config_name) as make:
        single = [lines[0] for _, lines in ours if lines and len(lines) == 1]
        if not hydra_lines and len(single) == len(ours) and _composes_cleanly(make, single, config_name):
            return [], [single], False  # one run, nothing wrong: no need to try each override on its own
        # Group selections first, each on its own; the later checks build on the valid ones only.
        swept_groups: dict[str, list[str]] = {}
        for o, lines in ours:
            if lines and o.key_or_group in groups:
                valid = [line for line in lines if _try(make, [line], line, problems) is not None]
                swept_groups[o.key_or_group] = valid or swept_groups.get(o.key_or_group, [])
        selected = [lines[0] for lines in swept_groups.values() if lines]
        try:
            multirun, params = _hydra_settings([*selected, *hydra_lines], config_name)
        except Exception as err:  # e.g. hydra/launcher=nope: report it with the others
            problems.append(_explain(err, " ".join(hydra_lines) or "the config"))
            multirun, params = False, {}
        given = {o.key_or_group for o, _ in ours}
        extra = parser.parse_overrides([f"{k}={v}" for k, v in params.items() if k not in given])
        sweep = [*ours, *((o, _lines(o)) for o in extra)]
        # Then every value of every other override, on the selected groups (each value of a swept group, if
        # the key lives in it: method.block_size=64 is fine for method=bca but not for method=lora).
        for o, lines in sweep:
            if not lines or o.key_or_group in groups:
                continue
            top = o.key_or_group.lstrip("+~").split(".")[0]
            contexts = swept_groups.get(top) or [None]
            rest = [f for f in selected if not (len(contexts) > 1 and f in contexts)]
            for context in contexts:
                for line in lines:
                    label = f"{line} (with {context})" if len(contexts) > 1 else line
                    _try(make, [*rest, *([context] if context else []), line], label, problems)
        if not problems:  # each override is fine on its own: now all of them together
            firsts = [lines[0] for _, lines in sweep if lines]
            _try(make, firsts, "the overrides together", problems)
    expanded = [lines for _, lines in sweep if lines]
    if math.prod(len(lines) for lines in expanded) <= MAX_SWEEP_JOBS_CHECKED:
        jobs = [list(combo) for combo in itertools.product(*expanded)]
    else:  # the first job, then every other value of each sweep override once
        first = [lines[0] for lines in expanded]
        jobs = [first] + [first[:i] + [v] + first[i + 1 :] for i, lines in enumerate(expanded) for v in lines[1:]]
    return problems, ([] if problems else jobs), multirun
