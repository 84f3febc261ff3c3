"""A peft baseline without custom maths is added with ONE config file: here IA3, from a temporary config folder.

The file is all there is (no Python, no schema): it must compose, be checked up front, train end to end on
tiny-roberta, and come out of the record, bca-count and bca-table like a registered method, with its adapter
FLOPs reported as not counted instead of an error.
"""

import pytest

from bca.cli import bca_count
from bca.config.hydra_app import CONFIG_PATH_ENV, compose
from bca.config.hydra_overrides import command_line_jobs
from bca.config.validate import ConfigProblems
from bca.report import tables
from bca.run import records
from bca.run.runner import run

IA3_YAML = """\
# IA3 (peft): learned scaling vectors on the targeted projections.
defaults:
  - /schema/method/peft@_here_
  - _self_
name: ia3
peft_config: IA3Config
target_modules: ${model.target_modules}
fields:
  feedforward_modules: []
lr: 1.0e-2
head_lr: 4.0e-3
"""

TINY = [
    "model=tiny-roberta",
    "task.max_train_samples=24",
    "task.max_eval_samples=16",
    "trainer.batch_size=8",
    "trainer.max_steps=3",
    "trainer.max_length=32",
    "trainer.progress=false",
    "logger=disabled",
]
LAYERS, D = 4, 32  # tiny-roberta: query and value of 2 layers, 32 x 32
HEAD_PARAMS = D * D + D + D * 2 + 2


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    (folder / "method").mkdir(parents=True)
    (folder / "method" / "ia3.yaml").write_text(IA3_YAML)
    monkeypatch.setenv(CONFIG_PATH_ENV, str(folder))
    return folder


def test_a_one_file_method_runs_end_to_end(config_dir, tmp_path):
    cfg = compose([*TINY, "method=ia3", f"results_dir={tmp_path / 'runs'}"])
    record = run(cfg)
    on_disk = records.read_record(records.record_path(tmp_path / "runs", record["run_id"]))
    assert on_disk["status"] == "ok", on_disk["error"]
    # IA3 on a non-feedforward Linear scales its output: one learned vector of d_out entries per layer
    assert on_disk["params"]["adapter"] == LAYERS * D
    assert on_disk["params"]["head"] == HEAD_PARAMS
    assert on_disk["optimizer"]["adapter"]["lr"] == pytest.approx(1e-2)  # no lr scale
    assert on_disk["time"]["steps"] == 3
    flops = on_disk["flops"]
    assert flops["adapter_flops"].startswith("not counted") and "error" not in flops
    assert flops["adapter_flops_fwd_per_token"] is None and flops["flops_fwd_per_token"] > 0  # network measured
    assert tables.row_label(on_disk) == "ia3"


def test_a_mistyped_field_is_reported_before_any_work(config_dir, tmp_path):
    (config_dir / "method" / "ia3.yaml").write_text(IA3_YAML.replace("feedforward_modules", "feedforward_modulez"))
    cfg = compose([*TINY, "method=ia3", f"results_dir={tmp_path}"])
    with pytest.raises(ConfigProblems) as err:
        run(cfg)
    assert (
        "method.fields.feedforward_modulez: IA3Config has no field 'feedforward_modulez'; "
        "did you mean feedforward_modules?"
    ) in str(err.value)
    assert not list(tmp_path.rglob("*.json"))


def test_an_unknown_peft_class_names_the_closest_one(config_dir, tmp_path):
    (config_dir / "method" / "ia3.yaml").write_text(IA3_YAML.replace("IA3Config", "IA3Confg"))
    cfg = compose([*TINY, "method=ia3", f"results_dir={tmp_path}"])
    with pytest.raises(ConfigProblems, match=r"method.peft_config='IA3Confg' is not a config class of peft; did you "
                       r"mean IA3Config\?"):  # fmt: skip
        run(cfg)


def test_the_command_line_check_sees_the_extra_config_folder(config_dir):
    problems, jobs, _ = command_line_jobs(["model=tiny-roberta", "method=ia3", "+method.fields.init_ia3_weights=false"])
    assert problems == [] and jobs
    cfg = compose(["model=tiny-roberta", "method=ia3", "+method.fields.init_ia3_weights=false"])
    assert cfg.method.fields == {"feedforward_modules": [], "init_ia3_weights": False}


def test_without_the_folder_the_method_does_not_exist(monkeypatch):
    monkeypatch.delenv(CONFIG_PATH_ENV, raising=False)
    problems, _, _ = command_line_jobs(["method=ia3"])
    assert problems and "there is no method 'ia3'" in problems[0]


def test_bca_count_says_not_counted(config_dir, capsys):
    assert bca_count.main(["model=tiny-roberta", "method=ia3", "trainer.batch_size=2", "trainer.max_length=8",
                          "--no-csv"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| tiny-roberta | ia3 |" in out and "adapter FLOPs not counted" in out
    assert "| 2 | 8 | 16 |" in out
