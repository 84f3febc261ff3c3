"""The decoder table (bca-table --decoder), checked by hand.

Wilson intervals: the issue that asked for this table quotes 3 %, 4 % and 1 % of 100 GSM8K problems as
1.0-8.5 / 1.6-9.8 / 0.2-5.4 (95 %); the closed form p̂ ± z·sqrt(p̂(1-p̂)/n + z²/4n²), centred at
(p̂ + z²/2n), over (1 + z²/n), gives the same. Fisher's exact p: the same issue quotes LoRA 4/100 vs BCA 1/100
as p = 0.37; by hand it is the sum of the hypergeometric probabilities of every table with the same margins that
is no likelier than the observed one. Held-out loss: mean ± std and Welch's p of known values.
"""

import json
import math

import pytest
from experiment_files import experiment_file
from scipy.stats import ttest_ind

from bca.report import tables
from bca.report.decoder_table import decoder_table, wilson
from bca.report.stats import fisher_p as fisher


def wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k,quoted", [(3, (1.0, 8.5)), (4, (1.6, 9.8)), (1, (0.2, 5.4))])
def test_wilson_matches_the_closed_form_and_the_issue(k, quoted):
    low, high = wilson(k, 100)
    assert (low, high) == pytest.approx(wilson_by_hand(k, 100), abs=1e-12)
    assert (round(100 * low, 1), round(100 * high, 1)) == quoted


def fisher_by_hand(k, n, k_ref, n_ref):
    """Two-sided Fisher exact p: tables with the margins of [[k, n-k], [k_ref, n_ref-k_ref]], by probability."""
    total, correct = n + n_ref, k + k_ref

    def prob(a):  # P(a correct in the first row | margins): hypergeometric
        return math.comb(correct, a) * math.comb(total - correct, n - a) / math.comb(total, n)

    observed = prob(k)
    feasible = range(max(0, correct - n_ref), min(correct, n) + 1)
    return sum(prob(a) for a in feasible if prob(a) <= observed * (1 + 1e-7))


@pytest.mark.parametrize("counts", [(4, 100, 1, 100), (1, 100, 4, 100), (12, 300, 8, 300), (0, 100, 8, 300)])
def test_fisher_matches_the_hypergeometric_sum_and_the_issue(counts):
    assert fisher(*counts) == pytest.approx(fisher_by_hand(*counts), rel=1e-9)
    if counts == (4, 100, 1, 100):
        assert round(fisher(*counts), 2) == 0.37  # the issue's LoRA vs BCA figure


def rec(label, method, seed, loss, acc, forgetting, n=100):
    return {
        "status": "ok",
        "config": {"tags": [f"row:{label}"], "model": {"name": "m"}, "method": {"name": method},
                   "task": {"name": "gsm8k", "max_train_samples": None, "max_eval_samples": n},
                   "trainer": {"seed": seed, "max_steps": 10, "epochs": 1}},
        "params": {"adapter": 100 if method == "lora" else 10},
        "metrics": {"metric_for_best": "accuracy",
                    "best": {"eval": {"accuracy": acc, "heldout_loss": loss, "forgetting": forgetting}}},
        "time": {"tokens_per_s": 50.0 + seed},
        "eval_set": {"n": n},
    }  # fmt: skip


def test_rows_carry_loss_statistics_pooled_accuracy_and_generation_speed(tmp_path):
    lora, lora_forgets = [1.10, 1.12, 1.14], [0.01, 0.02, 0.03]
    bca, bca_forgets = [1.20, 1.21, 1.25], [0.10, 0.11, 0.13]
    found = [
        rec("LoRA r=8", "lora", s, v, a, f)
        for s, (v, a, f) in enumerate(zip(lora, (0.03, 0.04, 0.05), lora_forgets, strict=True))
    ]
    found += [rec("BCA", "bca", s, v, a, f)
              for s, (v, a, f) in enumerate(zip(bca, (0.01, 0.01, 0.02), bca_forgets, strict=True))]  # fmt: skip
    bench = tmp_path / "gen.json"
    bench.write_text(json.dumps({"rows": [  # by row label: a LoRA of another size must not be joined to LoRA r=8
        {"label": "BCA", "method": "bca", "unmerged_speed_vs_base": 0.81, "merged_speed_vs_base": 0.99},
        {"label": "LoRA r=64", "method": "lora", "unmerged_speed_vs_base": 0.5, "merged_speed_vs_base": 0.9},
    ]}))  # fmt: skip
    text = decoder_table(tables.build(found), bench)
    line = {ln.split(" | ")[0].strip("| "): ln for ln in text.splitlines() if ln.startswith("| ")}
    p = ttest_ind(bca, lora, equal_var=False).pvalue
    assert f"| BCA | 10 | 1.2200 ± 0.0265 (n=3), p = {p:.3g}* |" in line["BCA"] and p < 0.05
    fisher_p = fisher_by_hand(4, 300, 12, 300)
    assert (
        f"| 1.3 (4/300; {100 * wilson_by_hand(4, 300)[0]:.1f}-{100 * wilson_by_hand(4, 300)[1]:.1f}), "
        f"p = {fisher_p:.2g} |"
        in line["BCA"]
        and fisher_p > 0.05
    )
    forgets_p = ttest_ind(bca_forgets, lora_forgets, equal_var=False).pvalue
    assert f"| 0.1133 ± 0.0153 (n=3), p = {forgets_p:.3g}* | 51 | 0.81 / 0.99 |" in line["BCA"] and forgets_p < 0.05
    low, high = wilson_by_hand(12, 300)
    # 3 + 4 + 5 of 3 x 100; the reference row tests nothing against itself
    assert f"| 4.0 (12/300; {100 * low:.1f}-{100 * high:.1f}) | 0.0200 ± 0.0100 (n=3) |" in line["LoRA r=8"]
    assert line["LoRA r=8"].endswith("| - |")  # this row was not measured (only a LoRA of another size was)


def test_a_zero_shot_row_says_its_adapter_was_not_trained():
    zero = rec("zero-shot", "lora", 0, 1.5, 0.03, 0.0)
    zero["time"] = {"steps": 0}
    line = next(ln for ln in decoder_table(tables.build([zero])).splitlines() if ln.startswith("| zero-shot"))
    assert line.startswith("| zero-shot | none trained (100 at init) | 1.5000 (n=1) | 3.0 (3/100; ")
    assert line.endswith("| 1 (the base model) |")  # its generation speed is the base model's, not LoRA's


def test_a_declared_reference_without_runs_yet_leaves_the_loss_cells_unmarked(tmp_path):
    """An experiment in progress: its reference row (LoRA) has no final run yet; the table still renders."""
    found = [rec("BCA", "bca", s, v, 0.01, 0.0) for s, v in enumerate([1.2, 1.3])]
    exp = experiment_file(
        tmp_path,
        "title: t\nreports: r\nseeds: [0]\ncolumns: [gsm8k]\nreference: LoRA r=8\n"
        "rows: [{label: zero-shot, overrides: [method=lora]}, {label: LoRA r=8, overrides: [method=lora]},"
        " {label: BCA, overrides: [method=bca]}]\n",
        found,
    )
    text = decoder_table(tables.build(found, exp))
    assert "against the reference row (none has landed yet)" in text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("| BCA")]
    assert "| 1.2500 ± 0.0707 (n=2) |" in line  # no p: nothing to test against
