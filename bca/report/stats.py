"""The statistics a table may print: Welch's t-test of a row against a reference row, over seeds.

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


def differs(p: float | None, alpha: float = ALPHA) -> bool:
    return p is not None and p < alpha
