"""Instruction task loading: real GSM8K and Alpaca files, reasoning-gym problems, and the config checks."""

import json

import pytest
from conftest import SHARED_DATA

from bca.config.hydra_app import compose
from bca.tasks.instruct.sources import COLUMNS
from bca.tasks.registry import TaskDataError, load_task


def task(*overrides):
    return compose([*overrides]).task


def need(path):
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set BCA_SHARED_DATA); a user's clone has none")
    return path


def test_gsm8k_from_the_original_files():
    folder = need(SHARED_DATA / "gsm8k")
    splits = load_task(task("task=gsm8k", f"task.data_dir={folder}"))
    assert (len(splits.train), len(splits.eval)) == (7473, 1319)
    assert splits.num_labels is None and splits.metric_for_best == "accuracy"
    first = json.loads((folder / "test.jsonl").open().readline())
    row = splits.eval[0]
    assert row["instruction"] == first["question"] and row["answer"] == "18"
    assert "<<" not in row["response"] and row["response"].endswith("#### 18")  # calculator notes dropped
    assert set(splits.train.column_names) == set(COLUMNS)


def test_subsets_are_seeded_and_eval_takes_the_first_rows():
    folder = need(SHARED_DATA / "gsm8k")
    cfg = ["task=gsm8k", f"task.data_dir={folder}", "task.max_train_samples=50", "task.max_eval_samples=20"]
    a, b = load_task(task(*cfg)), load_task(task(*cfg))
    assert a.train["instruction"] == b.train["instruction"] and len(a.train) == 50
    full = load_task(task("task=gsm8k", f"task.data_dir={folder}"))
    assert a.eval["instruction"] == full.eval["instruction"][:20]


def test_alpaca_trains_and_gsm8k_is_scored():
    alpaca = need(SHARED_DATA / "instruct" / "alpaca_data_first200.json")
    gsm8k = need(SHARED_DATA / "gsm8k")
    splits = load_task(task("task=alpaca", f"task.data_dir={alpaca}", f"task.eval_data_dir={gsm8k}"))
    assert len(splits.train) == 200 and splits.train[0]["instruction"] == "Give three tips for staying healthy."
    assert len(splits.eval) == 1319 and splits.eval[0]["answer"] == "18"


def test_alpaca_cannot_be_the_scored_set():
    with pytest.raises(TaskDataError, match="no reference answers"):
        load_task(task("task=alpaca", "task.eval_task=alpaca", "task.data_dir=/nonexistent"))


def test_missing_files_name_what_was_looked_for(tmp_path):
    with pytest.raises(TaskDataError, match="train.jsonl"):
        load_task(task("task=gsm8k", f"task.data_dir={tmp_path}"))


def test_synthetic_is_seeded_gsm8k_shaped_and_test_never_repeats_train():
    cfg = ["task=gsm8k_synthetic", "task.max_train_samples=300", "task.max_eval_samples=100"]
    a, b = load_task(task(*cfg)), load_task(task(*cfg))
    assert a.train["instruction"] == b.train["instruction"] and len(a.train) == 300
    assert 90 <= len(a.eval) <= 100
    assert not set(a.train["instruction"]) & set(a.eval["instruction"])
    other = load_task(task(*cfg, "task.seed=7"))
    assert other.train["instruction"] != a.train["instruction"]
    for row in a.eval:
        assert row["response"].rstrip().endswith(f"#### {row['answer']}")
        assert not row["instruction"].endswith("Do not include units.")
