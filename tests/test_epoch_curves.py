"""scripts/epoch_curves.py: the numbers behind a step-budget choice, read from records."""

import importlib.util
import json
from pathlib import Path

from sample_records import sample_record

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "epoch_curves.py"


def _script():
    spec = importlib.util.spec_from_file_location("epoch_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(tmp_path, rec):
    (tmp_path / "records").mkdir(exist_ok=True)
    (tmp_path / "records" / f"{rec['run_id']}.json").write_text(json.dumps(rec))


def test_epoch_table_and_loss_curve_table(tmp_path, capsys):
    epochs = [{"epoch": 1, "step": 10, "eval": {"accuracy": 0.5}}, {"epoch": 2, "step": 20, "eval": {"accuracy": 0.75}}]
    plain = sample_record("a", metrics={"metric_for_best": "accuracy", "epochs": epochs,
                                        "best": {"epoch": 2, "eval": epochs[1]["eval"]}})  # fmt: skip
    _write(tmp_path, plain)
    (tmp_path / "checkpoints" / "a").mkdir(parents=True)
    (tmp_path / "checkpoints" / "a" / "manifest.json").write_text("{}")  # not a record: never read
    assert _script().main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "damaged" not in err
    assert "10: 50.00 · **20: 75.00**" in out and "teacher-forced" not in out  # no curve: no second table

    curve = [
        {"step": 0, "heldout_loss": 1.5, "forgetting": 0.0},
        {"step": 25, "heldout_loss": 1.25, "forgetting": 0.02},
        {"step": 50, "heldout_loss": 1.3, "forgetting": 0.05},
    ]
    decoder = sample_record("b", metrics={"metric_for_best": "accuracy", "epochs": epochs[:1], "curve": curve,
                                          "best": {"epoch": 1, "eval": epochs[0]["eval"]}})  # fmt: skip
    _write(tmp_path, decoder)
    assert _script().main([str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (held,) = [ln for ln in lines if "| heldout_loss |" in ln]
    assert held.endswith("| 0: 1.5000 · **25: 1.2500** · 50: 1.3000 |")  # the lowest in bold
    (forgetting,) = [ln for ln in lines if "| forgetting |" in ln]
    assert forgetting.endswith("| 0: 0.0000 · 25: 0.0200 · 50: 0.0500 |") and "**" not in forgetting
