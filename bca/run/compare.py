"""The columns a dashboard compares runs by, under stable names: wandb config ``compare.*``, summary ``compare/*``.

Read off the record, so wandb and the JSON record never disagree. Known before training (config and summary):
``method``, ``label`` (the table row), ``settings``, ``model``, ``task``, ``adapter_params``, ``head_params``,
``flops_per_token`` (whole network, forward, measured), ``adapter_flops_per_token`` (analytic; None: not
counted), ``lr_adapter``, ``lr_head`` (the learning rates used, after BCA's 1/p). After training (summary):
``status``, ``best_metric`` (the best dev epoch's main metric, in [0, 1]), ``best_metric_name``, ``best_epoch``,
``step_s`` (mean optimiser step), ``tokens_per_s`` (input tokens, padding included, per second of steps),
``train_s``, ``peak_rss_mb``, ``peak_accelerator_mb``. The README lists them ("wandb columns").
"""

from __future__ import annotations

PREFIX = "compare/"


def before_training(record: dict) -> dict:
    """Columns fixed once the model is built (what a run *is*): for wandb's config and its summary."""
    from bca.methods import settings_text
    from bca.run.labels import row_label

    config, flops, groups = record["config"], record.get("flops") or {}, record.get("optimizer") or {}
    return {
        "method": config["method"]["name"],
        "label": row_label(record),
        "settings": settings_text(config["method"]),
        "model": config["model"]["name"],
        "task": config["task"]["name"],
        "adapter_params": record["params"]["adapter"],
        "head_params": record["params"]["head"],
        "flops_per_token": flops.get("flops_fwd_per_token"),
        "adapter_flops_per_token": flops.get("adapter_flops_fwd_per_token"),
        "lr_adapter": (groups.get("adapter") or {}).get("lr"),
        "lr_head": (groups.get("head") or {}).get("lr"),
    }


def after_training(record: dict) -> dict:
    """Every column, for wandb's summary (``compare/<name>``)."""
    metrics = record.get("metrics") or {}
    best, time, memory = metrics.get("best"), record.get("time") or {}, record.get("memory") or {}
    name = metrics.get("metric_for_best")
    columns = before_training(record) | {
        "status": record["status"],
        "best_metric": best["eval"].get(name) if best else None,
        "best_metric_name": name,
        "best_epoch": best["epoch"] if best else None,
        "step_s": time.get("step_s"),
        "tokens_per_s": time.get("tokens_per_s"),
        "train_s": time.get("train_s"),
        "peak_rss_mb": memory.get("peak_rss_mb"),
        "peak_accelerator_mb": memory.get("peak_accelerator_mb"),
    }
    return {PREFIX + k: v for k, v in columns.items()}
