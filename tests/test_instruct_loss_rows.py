"""Which rows the held-out loss and the forgetting figure use, and the checks on their config keys."""

import pytest
from conftest import SHARED_DATA

from bca.config.hydra_app import compose
from bca.tasks.registry import TaskDataError, load_task


def need(path):
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set BCA_SHARED_DATA); a user's clone has none")
    return path


def load(*overrides):
    return load_task(compose(list(overrides)).task)


def test_heldout_rows_are_the_first_test_problems_whatever_max_eval_samples():
    gsm8k = need(SHARED_DATA / "gsm8k")
    full = load("task=gsm8k", f"task.data_dir={gsm8k}")
    for n_eval in (10, 50):
        splits = load("task=gsm8k", f"task.data_dir={gsm8k}", f"task.max_eval_samples={n_eval}",
                      "task.heldout_loss_samples=30")  # fmt: skip
        assert splits.heldout["instruction"] == full.eval["instruction"][:30]
        assert splits.heldout["response"] == full.eval["response"][:30]  # the reference solutions
        assert splits.eval["instruction"] == full.eval["instruction"][:n_eval]
    assert full.heldout is None and full.general is None  # off by default
    with pytest.raises(TaskDataError, match="task.heldout_loss_samples=2000 but gsm8k test has 1319 rows"):
        load("task=gsm8k", f"task.data_dir={gsm8k}", "task.heldout_loss_samples=2000")


def test_general_sample_is_seeded_and_never_a_training_row():
    gsm8k = need(SHARED_DATA / "gsm8k")
    alpaca = need(SHARED_DATA / "instruct" / "alpaca_data_first200.json")
    cfg = ["task=gsm8k", f"task.data_dir={gsm8k}", "task.forgetting_samples=40", f"task.forgetting_data_dir={alpaca}"]
    a, b, other = load(*cfg), load(*cfg), load(*cfg, "task.seed=7")
    assert len(a.general) == 40 and a.general["instruction"] == b.general["instruction"]
    assert a.general["instruction"] != other.general["instruction"]
    assert len(set(a.general["instruction"])) == 40
    # training on that same file leaves no unseen row: said, not silently scored on training text
    with pytest.raises(TaskDataError, match="0 rows that are not training rows"):
        load("task=alpaca", f"task.data_dir={alpaca}", f"task.eval_data_dir={gsm8k}", "task.max_train_samples=10",
             "task.forgetting_samples=5", f"task.forgetting_data_dir={alpaca}")  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.heldout_loss_samples=-1"], "must be >= 0"),
        (["task.heldout_loss_every=5"], "needs task.heldout_loss_samples"),
        (["task.forgetting_samples=5", "task.forgetting_task=wiki"], "unknown instruction forgetting dataset"),
    ],
)
def test_bad_loss_keys_are_one_line_errors(overrides, message):
    with pytest.raises(TaskDataError, match=message):
        load("task=gsm8k_synthetic", "task.max_train_samples=20", "task.max_eval_samples=10", *overrides)
