"""bca-table --metric: another figure of the best dev epoch as the cell, unscaled losses, lower-is-better note."""

import statistics

from bca.cli.bca_table import main
from bca.report import table_metric
from bca.report.render import render
from bca.report.tables import build


def record(seed, accuracy, heldout_loss=None, status="ok"):
    scores = {"accuracy": accuracy, **({"heldout_loss": heldout_loss} if heldout_loss is not None else {})}
    return {
        "run_id": f"r{seed}",
        "status": status,
        "config": {
            "model": {"name": "smollm2-135m"},
            "method": {"name": "lora", "r": 8},
            "task": {"name": "gsm8k", "max_train_samples": None},
            "trainer": {"seed": seed, "epochs": 1, "max_steps": 100},
            "experiment": "default",
            "tags": [],
        },
        "metrics": {
            "metric_for_best": "accuracy",
            # the best epoch is chosen by accuracy; the loss column reports that same epoch's figure
            "best": {"epoch": 1, "eval": scores} if status == "ok" else None,
        },
        "params": {"adapter": 460_800, "head": 0},
    }


def test_loss_cells_are_the_best_epochs_loss_unscaled_and_say_lower_is_better():
    losses = [0.91, 0.87, 0.95]
    found = [record(s, 0.03, v) for s, v in enumerate(losses)]
    found += [record(7, 0.04), record(8, None, status="diverged")]  # recorded before the figure existed; diverged
    table = build(found, metric="heldout_loss")
    cell = table.rows[0].cells["gsm8k"]
    assert cell.values == sorted(losses) and cell.median == statistics.median(losses)
    assert abs(cell.std - statistics.stdev(losses)) < 1e-12
    assert cell.not_ok == {"no heldout_loss": 1, "diverged": 1}
    assert "heldout_loss of that epoch (lower is better)" in table.reports
    assert "| 0.9100 (0.9100 ± 0.0400, n=3) [diverged 1, no heldout_loss 1] |" in render(table, "md")  # nats: 4 digits
    default = build(found)  # unchanged: accuracy x 100
    assert default.rows[0].cells["gsm8k"].median == 3.0 and "lower is better" not in default.reports


def test_cli_takes_the_metric(tmp_path, capsys):
    from bca.run import records

    for i, rec in enumerate([record(0, 0.03, 0.9), record(1, 0.05, 0.8)]):
        records.write_record(records.record_path(tmp_path, f"r{i}"), rec)
    assert main([str(tmp_path), "--metric", "heldout_loss", "--format", "csv"]) == 0
    assert "lora r=8,smollm2-135m,gsm8k,2,0.85,0.85,0.07" in capsys.readouterr().out
    assert table_metric.LOWER_IS_BETTER >= {"heldout_loss", "forgetting"}


def test_loss_curves_are_plotted_for_runs_that_have_them(tmp_path):
    from bca.report.frame import runs_frame
    from bca.report.plot_curves import loss_curves

    with_curve = record(0, 0.03, 0.9)
    with_curve["metrics"]["curve"] = [
        {"step": s, "heldout_loss": 1.2 - 0.001 * s, "general_loss": 2.0, "forgetting": 0.0001 * s} for s in (0, 25, 50)
    ]
    assert loss_curves(runs_frame([record(1, 0.03, 0.9)]), tmp_path) == []  # no curve, no figure
    (path,) = loss_curves(runs_frame([with_curve, record(1, 0.03, 0.9)]), tmp_path)
    assert path.name == "loss_curves_gsm8k.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rows_seeds_share_one_colour_and_one_legend_entry(tmp_path, monkeypatch):
    """Eighteen runs in one figure: one colour and one legend entry per row, not per run."""
    from bca.report import plot_curves
    from bca.report.frame import runs_frame

    def curved(seed, row, slope):
        rec = record(seed, 0.03, 0.9)
        rec["config"]["tags"] = [f"row:{row}"]
        rec["metrics"]["curve"] = [
            {"step": s, "heldout_loss": 1.2 - slope * s, "forgetting": slope * s} for s in (0, 25)
        ]
        return rec

    seen = {}

    def capture(plt, fig, path, dpi=120):
        seen["legend"] = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
        seen["colours"] = [(line.get_label(), line.get_color()) for line in fig.axes[0].get_lines()]
        plt.close(fig)
        return path

    monkeypatch.setattr(plot_curves, "save", capture)
    found = [curved(0, "A", 0.001), curved(1, "A", 0.002), curved(0, "B", 0.003)]
    plot_curves.loss_curves(runs_frame(found), tmp_path)
    assert seen["legend"] == ["A (2 seeds)", "B (seed 0)"]
    (a0, a1, b0) = [colour for _, colour in seen["colours"]]
    assert a0 == a1 and a0 != b0 and len(seen["colours"]) == 3  # every run drawn, its row's colour
