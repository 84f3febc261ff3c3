"""Welch's p by hand for the table tests, and the smallest record a table cell is built from.

Welch's t with equal sample variances and sizes has n1 + n2 - 2 degrees of freedom; with 3 seeds a side that is
4, whose t CDF has a closed form: F(t) = 1/2 + (3/4) u (1 - u^2 / 3), u = t / sqrt(t^2 + 4). So the p-values
are computed without scipy, the library the table uses.
"""

import math


def p_by_hand(a, b):
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    var = lambda v: sum((x - mean(v)) ** 2 for x in v) / (len(v) - 1)  # noqa: E731
    t = abs(mean(a) - mean(b)) / math.sqrt(var(a) / len(a) + var(b) / len(b))
    u = t / math.sqrt(t * t + 4)
    return 2 * (1 - (0.5 + 0.75 * u * (1 - u * u / 3)))


def rec(label, task, value, seed):
    """A finished run of table row ``label`` on ``task`` scoring ``value`` (x100) with ``seed``."""
    return {
        "status": "ok",
        "config": {
            "tags": [f"row:{label}"], "model": {"name": "m"}, "task": {"name": task, "max_train_samples": None},
            "trainer": {"seed": seed, "max_steps": 10, "epochs": 1}, "method": {"name": "lora", "r": 8},
        },
        "metrics": {"metric_for_best": "accuracy", "best": {"eval": {"accuracy": value / 100}}},
        "params": {"adapter": 10},
    }  # fmt: skip
