"""The generated prose (bca.report.findings): every sentence carries the statistics it rests on, checked by hand.

Welch's p with 3 seeds a side and equal variances has 4 degrees of freedom and a closed-form t CDF
(tests/welch_by_hand.py): CLOSE is p = 0.070 from LoRA (not significant), FAR p = 0.021 (significant).
"""

import pytest
from experiment_files import experiment_file
from welch_by_hand import p_by_hand, rec

from bca.report import tables
from bca.report.findings import findings

LORA, CLOSE, FAR = [80.0, 81.0, 82.0], [78.0, 79.0, 80.0], [77.0, 78.0, 79.0]


def test_each_task_line_names_who_differs_and_who_cannot_be_told_apart():
    found = [rec("LoRA r=8", t, v, s) for t in ("mrpc", "rte") for s, v in enumerate(LORA)]
    found += [rec("BCA", "rte", v, s) for s, v in enumerate(CLOSE)]
    found += [rec("BCA", "mrpc", v, s) for s, v in enumerate(FAR)]
    found += [rec("VeRA", "mrpc", 90.0, 0)]  # one seed: not testable, left out of the sentences
    text = findings(tables.build(found))
    far, close = f"{p_by_hand(LORA, FAR):.3g}", f"{p_by_hand(LORA, CLOSE):.3g}"
    assert (
        f"- **mrpc**: LoRA r=8 81.00 ± 1.00 (n=3). Below it at p < 0.05: BCA 78.00 ± 1.00 (n=3), -3.00, p = {far}."
        in text
    )
    assert (
        f"- **rte**: LoRA r=8 81.00 ± 1.00 (n=3). Not distinguishable from it (p ≥ 0.05): BCA 79.00 ± 1.00 (n=3), "
        f"-2.00, p = {close}. No row differs significantly from LoRA r=8 on rte." in text
    )
    assert "VeRA" not in text


def test_no_testable_cell_says_so():
    text = findings(tables.build([rec("LoRA r=8", "rte", 80.0, 0), rec("BCA", "rte", 70.0, 0)]))
    assert text.endswith("- No row can be compared with LoRA r=8 yet (a test needs 2 or more seeds on both sides).\n")


def test_floors_are_checked_against_the_medians(tmp_path):
    from bca.paper import experiments

    found = [rec("LoRA r=8", t, v, s) for t in ("mrpc", "rte") for s, v in enumerate(LORA)]
    exp = experiment_file(
        tmp_path,
        "title: t\nreports: r\nseeds: [0]\ncolumns: [mrpc, rte, cola]\n"
        "rows: [{label: LoRA r=8, overrides: [method=lora]}]\n"
        "floors: {LoRA r=8: {mrpc: 80, rte: 82, cola: 15}}\n",
        found,
    )
    text = findings(tables.build(found, exp), exp.floors)
    assert (
        "- Floors, LoRA r=8 median: mrpc 81.00 ≥ 80: met, n=3; rte 81.00 ≥ 82: MISSED, n=3; cola ≥ 15: not run yet."
        in text
    )
    (tmp_path / "bad.yaml").write_text((tmp_path / "e.yaml").read_text().replace("cola: 15", "qqp: 15"))
    with pytest.raises(experiments.ExperimentError, match=r"names tasks \['qqp'\] that are not columns"):
        experiments.load(str(tmp_path / "bad.yaml"))


def test_the_header_names_the_commits_the_cells_come_from():
    found = [rec("LoRA r=8", "rte", v, s) for s, v in enumerate(LORA)]
    for r, (commit, dirty) in zip(found, [("a" * 40, False), ("a" * 40, False), ("b" * 40, True)], strict=True):
        r["git"] = {"commit": commit, "dirty": dirty}
    assert tables.build(found).ours.endswith("; code: aaaaaaa (2), bbbbbbb (1); runs from dirty trees: 1")
    assert "code:" not in tables.build([rec("LoRA r=8", "rte", 80.0, 0)]).ours  # records without git fields


def test_a_loss_table_says_which_side_is_better_and_keeps_four_digits():
    def loss_rec(label, value, seed):
        r = rec(label, "gsm8k", 0.0, seed)
        r["metrics"]["best"]["eval"]["heldout_loss"] = value
        return r

    lora, bca = [1.20, 1.21, 1.22], [1.10, 1.11, 1.12]  # BCA lower (better) by 0.1, same spread as FAR's case
    found = [loss_rec("LoRA r=8", v, s) for s, v in enumerate(lora)] + [
        loss_rec("BCA", v, s) for s, v in enumerate(bca)
    ]
    text = findings(tables.build(found, metric="heldout_loss"))
    p = f"{p_by_hand(lora, bca):.3g}"
    assert (
        "- **gsm8k** heldout_loss: LoRA r=8 1.2100 ± 0.0100 (n=3). Below it (better) at p < 0.05: "
        f"BCA 1.1100 ± 0.0100 (n=3), -0.1000, p = {p}." in text
    )


def test_a_loss_table_prints_its_cells_with_four_digits():
    from bca.report.render import render

    def loss_rec(label, value, seed, steps=10):
        r = rec(label, "gsm8k", 0.0, seed)
        r["metrics"]["best"]["eval"]["heldout_loss"] = value
        r["config"]["trainer"]["max_steps"] = steps
        r["time"] = {"steps": steps}  # what a run records: the optimiser steps it took
        return r

    found = [loss_rec("LoRA r=8", v, s) for s, v in enumerate([1.2012, 1.2034, 1.2056])]
    found.append(loss_rec("zero-shot", 1.37161, 0, steps=0))
    text = render(tables.build(found, metric="heldout_loss"), "md")
    assert "| LoRA r=8 | m | 0.000M | - | 1.2034 (1.2034 ± 0.0022, n=3) | 1.2034 |" in text
    # the zero-shot run took 0 steps: its adapter count is the one at init, not a trained adapter's
    assert "| zero-shot | m | none trained | - | 1.3716 | 1.3716 |" in text
    assert "length: 0 steps, 10 steps" in text  # the zero-shot run trained 0 steps, not "1 epochs"
