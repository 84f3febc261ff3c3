"""The one use of Hydra's private command-line parser still reads a command line as ``@hydra.main`` does.

If a Hydra upgrade renames or changes ``hydra._internal.utils.get_args_parser``, these tests fail here, naming
``bca/config/hydra_args.py``, instead of bca-run's all-at-once check quietly checking the wrong thing.
"""

import hydra._internal.utils as hydra_utils
import pytest

from bca.config import hydra_args
from bca.config.hydra_args import HYDRA_FLAGS, command_line_problems


def test_hydra_s_parser_reads_overrides_and_its_own_flags():
    args = hydra_args.hydra_args(["--multirun", "--config-name", "other", "method=lora", "trainer.seed=0,1"])
    assert args.multirun and args.config_name == "other"
    assert args.overrides == ["method=lora", "trainer.seed=0,1"]
    assert not any(getattr(args, flag) for flag in ("help", "hydra_help", "info", "config_path", "config_dir"))
    assert all(hasattr(args, flag) for flag in HYDRA_FLAGS)


def test_hydra_s_own_modes_are_left_to_hydra():
    assert command_line_problems(["--help"]) == []
    assert command_line_problems(["--cfg", "job", "method=nope"]) == []


def test_a_changed_private_parser_fails_with_the_file_to_update(monkeypatch):
    monkeypatch.delattr(hydra_utils, "get_args_parser")
    with pytest.raises(RuntimeError, match=r"get_args_parser changed .*bca/config/hydra_args\.py"):
        hydra_args.hydra_args(["method=lora"])


def test_parsed_arguments_missing_a_flag_fail_with_the_file_to_update(monkeypatch):
    real = hydra_utils.get_args_parser

    def without_multirun():
        parser = real()
        parser._actions = [a for a in parser._actions if a.dest != "multirun"]
        parser._option_string_actions.pop("--multirun", None)
        parser._option_string_actions.pop("-m", None)
        return parser

    monkeypatch.setattr(hydra_utils, "get_args_parser", without_multirun)
    with pytest.raises(RuntimeError, match=r"lack \['multirun'\].*bca/config/hydra_args\.py"):
        hydra_args.hydra_args(["method=lora"])
