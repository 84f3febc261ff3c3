"""Records -> one DataFrame: the rows tables and plots group, checked field by field against the records."""

import math

from test_tables import record

from bca.report.frame import COLUMNS, runs_frame, values
from bca.report.tables import build


def test_one_row_per_record_in_read_order_with_the_cell_value_or_why_not():
    found = [record("rte", 0, 0.7, row="LoRA"), record("cola", 1, None, status="diverged"), record("rte", 2, 0.8)]
    found[2]["config"]["method"] = {"name": "bca", "block_size": 64}
    runs = runs_frame(found)
    assert list(runs.columns) == list(COLUMNS) and len(runs) == 3
    assert list(runs.label) == ["LoRA", "lora r=8", "bca block_size=64"]
    assert list(runs.task) == ["rte", "cola", "rte"] and list(runs.seed) == [0, 1, 2]
    assert runs.value[0] == 0.7 and math.isnan(runs.value[1]) and runs.value[2] == 0.8
    assert list(runs.missing) == [None, "diverged", None]
    assert list(runs.block_size) == [None, None, 64] and list(runs.adapter_params) == [12_288] * 3
    assert runs.record[1] is found[1]  # the curves' plots read the record itself
    assert values(runs) == [0.7, 0.8]


def test_another_metric_is_missing_for_runs_recorded_without_it():
    runs = runs_frame([record("rte", 0, 0.7)], metric="heldout_loss")
    assert math.isnan(runs.value[0]) and runs.missing[0] == "no heldout_loss"


def test_the_table_cells_are_the_frame_grouped_by_row_and_task():
    found = [record("rte", s, v) for s, v in enumerate([0.7, 0.74, 0.71])] + [record("rte", 9, None, "failed")]
    (row,) = build(found).rows
    by_cell = runs_frame(found).groupby(["label", "task"])
    assert row.cells["rte"].values == sorted(100 * v for v in values(by_cell.get_group(("lora r=8", "rte"))))
    assert row.cells["rte"].not_ok == {"failed": 1}


def test_an_empty_records_folder_is_an_empty_frame():
    assert runs_frame([]).empty and build([]).rows == []


def test_no_records_draw_no_plots(tmp_path):
    from bca.report.plots import write_all

    assert write_all([], tmp_path) == []
    assert write_all([record("rte", 0, None, status="failed")], tmp_path) == []
