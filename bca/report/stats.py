"""The statistics a table may print: Welch's t-test of a row against a reference row, over seeds; Fisher's exact
test of two pooled success counts (the decoder table's accuracy, a few correct of a few hundred problems).

Welch's (unequal variances) rather than Student's: two methods' seed spreads differ (BCA p = d's std is half
FourierFT's on SST-2), and Welch's test is the safe default with few seeds. scipy does the maths.
"""

from __future__ import annotations

import math

ALPHA = 0.05


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test of ``a`` vs ``b``; None when it is undefined (n < 2, no variance)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import ttest_ind

    p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return None if math.isnan(p) else p


def fisher_p(k: int, n: int, k_ref: int, n_ref: int) -> float:
    """Two-sided p of Fisher's exact test of k/n successes against k_ref/n_ref (exact: the counts are tiny)."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k, n - k], [k_ref, n_ref - k_ref]]).pvalue)


def differs(p: float | None, alpha: float = ALPHA) -> bool:
    return p is not None and p < alpha


def p_above_trivial(metric: str, value: float, facts: dict | None) -> float | None:
    """One-sided p-value that a score ``value`` (a fraction / correlation, not x100) on an eval set beats its
    best constant predictor (``bca.tasks.trivial``); None when the record has no facts or the metric no test.

    - accuracy: exact binomial test of round(value·n) correct answers against the majority share;
    - MCC: n·MCC² is the chi-square statistic of the 2x2 table, so MCC·sqrt(n) is ~N(0, 1) under independence;
    - Pearson / Spearman: the usual t = r·sqrt((n − 2) / (1 − r²)) with n − 2 degrees of freedom.
    """
    if not facts or metric not in facts.get("trivial", {}):
        return None
    from scipy import stats

    n, base = int(facts["n"]), float(facts["trivial"][metric])
    if metric == "accuracy":
        return float(stats.binomtest(round(value * n), n, base, alternative="greater").pvalue)
    if metric == "matthews_correlation":
        return float(stats.norm.sf(value * math.sqrt(n)))
    if metric in ("pearson", "spearmanr"):
        if n < 3:
            return None
        if abs(value) >= 1:
            return 0.0 if value > 0 else 1.0
        t = value * math.sqrt((n - 2) / (1 - value * value))
        return float(stats.t.sf(t, n - 2))
    return None


def at_trivial(metric: str, value: float, facts: dict | None, alpha: float = ALPHA) -> bool | None:
    """True when ``value`` does not beat the constant predictor at ``alpha``; None when not testable."""
    p = p_above_trivial(metric, value, facts)
    return None if p is None else p >= alpha
