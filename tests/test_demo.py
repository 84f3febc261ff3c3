"""make demo's pipeline at tiny scale: the shipped experiments/demo_rt.yaml through bca-reproduce, then bca-table
with the costs and plots; and the cost table against a hand computation."""

import re
from pathlib import Path

from bca.cli import bca_reproduce as reproduce
from bca.cli import bca_table
from bca.report import tables
from bca.report.cost_table import render_costs

ROOT = Path(__file__).resolve().parents[1]
TINY = ["model=tiny-roberta", "task.max_train_samples=16", "task.max_eval_samples=8", "trainer.batch_size=8",
        "trainer.epochs=1", "trainer.max_length=24"]  # fmt: skip


def test_makefile_demo_runs_the_shipped_comparison():
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "bca-reproduce demo_rt" in recipe and "bca-table $(DEMO_DIR) --experiment demo_rt --costs --plots" in recipe


def test_demo_experiment_end_to_end(tmp_path, capsys):
    results = tmp_path / "runs"
    assert reproduce.main(["demo_rt", *TINY, f"results_dir={results}", "trainer.progress=false"]) == 0
    capsys.readouterr()
    assert bca_table.main([str(results), "--experiment", "demo_rt", "--costs", "--plots", str(tmp_path / "plots")]) == 0
    captured = capsys.readouterr()
    out = captured.out
    for label in ("LoRA r=8", "C3A b=d", "BCA p=d"):
        # the score, then any marks (* vs the reference, ° at the constant predictor: a tiny random model is)
        score = re.search(rf"^\| {re.escape(label)} \| tiny-roberta \| [0-9.]+M \| - \| ([0-9.]+)[*°]* \|", out, re.M)
        assert score and 0 <= float(score.group(1)) <= 100, out  # accuracy in the score table
        cost = re.search(rf"^\| {re.escape(label)} \| tiny-roberta \| 1 \| ([0-9,]+) \| 1,122 \| ([0-9.]+) \| "
                         rf"([0-9.]+) \| ([0-9.,]+) \|", out, re.M)  # fmt: skip
        assert cost, out  # params, FLOPs per token (network and adapters), step time
    plots = re.findall(r"\[bca-table\] plot: (\S+)", captured.err)
    assert plots and all(Path(p).is_file() for p in plots)


def record(row, step_s, params, adapter_flops, status="ok"):
    return {
        "status": status,
        "config": {
            "model": {"name": "m"},
            "method": {"name": "lora", "r": 8},
            "task": {"name": "t", "max_train_samples": None},
            "tags": [f"row:{row}"],
            "trainer": {"seed": 0, "max_steps": None, "epochs": 1},
        },  # fmt: skip
        "params": {"adapter": params, "head": 10},
        "flops": {"flops_fwd_per_token": 2e6, "adapter_flops_fwd_per_token": adapter_flops}
        if adapter_flops is not None
        else {"flops_fwd_per_token": 2e6, "adapter_flops_fwd_per_token": None, "adapter_flops": "not counted: x"},
        "time": {"step_s": step_s, "tokens_per_s": 1000.0},
        "metrics": {"metric_for_best": "accuracy", "best": {"epoch": 1, "eval": {"accuracy": 0.5}}},
    }


def test_cost_table_is_the_median_of_the_finished_runs_per_row():
    found = [
        record("a", 0.010, 100, 3e5),
        record("a", 0.030, 100, 3e5),
        record("a", 0.020, 100, 3e5),
        record("a", 9.0, 100, 3e5, status="diverged"),  # not a finished run: left out
        record("b", 0.5, 7, None),
    ]
    table = tables.build(found)
    text = render_costs(table, found, "md")
    assert "| a | m | 4 | 100 | 10 | 2 | 0.3 | 20 | 1,000 |" in text  # median step 0.020 s = 20 ms
    assert "| b | m | 1 | 7 | 10 | 2 | not counted | 500 | 1,000 |" in text
    assert render_costs(tables.build(found[::-1]), found[::-1], "md") == text
    assert render_costs(table, found, "csv").splitlines()[1] == "a,m,4,100,10,2,0.3,20," + '"1,000"'
