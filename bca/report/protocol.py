"""The one sentence that says how a table's grid values were chosen, shared by the table header and the tuning
table so the two can never describe the selection differently. Text only: the selection itself is
``bca.paper.tune``."""

from __future__ import annotations


def describe_protocol(experiment) -> str:
    t = experiment.tune
    if t.protocol == "dev":
        return "grid values chosen on the dev split itself (the papers' protocol: optimistic, dev is also reported)"
    share = f"{100 * t.holdout:g}%" if t.holdout < 1 else f"{int(t.holdout)} rows"
    widen = f"; a choice at a grid end adds up to {t.widen} point(s) beyond it (tune.widen)" if t.widen else ""
    by = f" by {t.metric}" if t.metric else ""
    return (
        f"grid values chosen per (row, task){by} on a seeded held-out {share} of the training set (stratified by label "
        f"where the task has labels; seed {t.seed}, one run per grid point){widen}, never on dev; the seeds then train "
        "on the full training set at the chosen point"
    )
