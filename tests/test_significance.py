"""Significance marks, checked on a worked example by hand.

Welch's t with equal sample variances and sizes has n1 + n2 - 2 degrees of freedom; with 3 seeds a side that is
4, whose t CDF has a closed form: F(t) = 1/2 + (3/4) u (1 - u^2 / 3), u = t / sqrt(t^2 + 4). So the p-values
below are computed without scipy, the library the table uses (tests/welch_by_hand.py).
"""

import pytest
from welch_by_hand import p_by_hand, rec

from bca.report import render, tables
from bca.report.stats import welch_p

LORA = [80.0, 81.0, 82.0]
CLOSE = [78.0, 79.0, 80.0]  # t = 2.449: p = 0.070, not marked
FAR = [77.0, 78.0, 79.0]  # t = 3.674: p = 0.021, marked


def test_welch_p_matches_the_hand_computation():
    assert welch_p(LORA, CLOSE) == pytest.approx(p_by_hand(LORA, CLOSE), rel=1e-9)
    assert welch_p(LORA, FAR) == pytest.approx(p_by_hand(LORA, FAR), rel=1e-9)
    assert p_by_hand(LORA, FAR) < 0.05 < p_by_hand(LORA, CLOSE)
    assert welch_p([1.0], [2.0, 3.0]) is None  # one seed: no test


def test_the_table_marks_only_the_cell_that_differs_and_says_how():
    found = [rec("LoRA r=8", "rte", v, s) for s, v in enumerate(LORA)]
    found += [rec("BCA", "rte", v, s) for s, v in enumerate(CLOSE)]
    found += [rec("BCA", "mrpc", v, s) for s, v in enumerate(FAR)]
    found += [rec("LoRA r=8", "mrpc", v, s) for s, v in enumerate(LORA)]
    table = tables.build(found)
    text = render.render(table, "md")
    bca = next(ln for ln in text.splitlines() if ln.startswith("| BCA |"))
    mrpc, rte = bca.split(" | ")[4:6]  # columns sorted: mrpc, rte
    assert mrpc.endswith("n=3)*") and rte.endswith("n=3)")
    assert "* differs from LoRA r=8 at p < 0.05 (Welch's t-test" in text
    csv = render.render(table, "csv").splitlines()
    row = next(ln for ln in csv if ln.startswith("BCA,m,mrpc"))
    assert f"{p_by_hand(LORA, FAR):.4g}" in row


def test_an_unknown_reference_row_is_an_error_naming_the_rows():
    found = [rec("LoRA r=8", "rte", 80.0, 0)]
    with pytest.raises(ValueError, match=r"reference row 'VeRA' is not in the table; rows: \['LoRA r=8'\]"):
        tables.build(found, reference="VeRA")
