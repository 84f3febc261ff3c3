"""The offline wandb run holds what dashboards need: config, group, tags, history and summary metrics."""

import json

import pytest
from wandb_offline_log import records as wandb_records

from bca.config.hydra_app import compose
from bca.run.runner import run


def test_offline_run_holds_config_group_tags_and_summary(tmp_path):
    cfg = compose(
        [
            "model=tiny-roberta",
            "logger=offline",
            "experiment=my_table",
            f"results_dir={tmp_path}",
            "task.max_train_samples=16",
            "task.max_eval_samples=8",
            "trainer.batch_size=8",
            "trainer.epochs=1",
            "trainer.log_every=1",
            "trainer.progress=false",
        ]
    )
    record = run(cfg)
    (run_file,) = (tmp_path / "wandb").glob(f"offline-run-*-{record['run_id']}/run-{record['run_id']}.wandb")
    logged = list(wandb_records(run_file))

    (meta,) = [r.run for r in logged if r.WhichOneof("record_type") == "run"]
    assert meta.run_group == "my_table"
    assert {"method:lora", "task:rotten_tomatoes", "model:tiny-roberta"} <= set(meta.tags)
    config = {u.key: json.loads(u.value_json) for u in meta.config.update}
    assert config["method"]["r"] == 8 and config["task"]["max_train_samples"] == 16
    assert config["run_id"] == record["run_id"]

    summary = {}
    for r in logged:
        if r.WhichOneof("record_type") == "summary":
            summary.update({u.key: json.loads(u.value_json) for u in r.summary.update if u.key})
    assert summary["status"] == "ok"
    assert summary["best/accuracy"] == record["metrics"]["best"]["eval"]["accuracy"]
    assert summary["params/adapter"] == record["params"]["adapter"]

    # the comparison columns, under their documented names (bca.run.compare, README "wandb columns"): same values
    # as the record, in the config (known before training) and in the summary (everything)
    columns = config["compare"]
    assert columns == {
        "method": "lora",
        "label": "lora r=8",
        "settings": "r=8",
        "model": "tiny-roberta",
        "task": "rotten_tomatoes",
        "adapter_params": record["params"]["adapter"],
        "head_params": record["params"]["head"],
        "flops_per_token": record["flops"]["flops_fwd_per_token"],
        "adapter_flops_per_token": record["flops"]["adapter_flops_fwd_per_token"],
        "lr_adapter": record["optimizer"]["adapter"]["lr"],
        "lr_head": record["optimizer"]["head"]["lr"],
    }
    assert columns["adapter_params"] == 4 * 2 * 8 * 32 and columns["flops_per_token"] > 0
    assert {k: summary["compare/" + k] for k in columns} == columns
    best = record["metrics"]["best"]
    assert (
        summary["compare/best_metric"] == best["eval"]["accuracy"] and summary["compare/best_metric_name"] == "accuracy"
    )
    assert summary["compare/best_epoch"] == best["epoch"] == 1 and summary["compare/status"] == "ok"
    assert summary["compare/step_s"] == record["time"]["step_s"] > 0
    assert summary["compare/peak_rss_mb"] == record["memory"]["peak_rss_mb"] > 0
    # 16 rows / batch 8 = 2 steps, each batch padded to its longest row: the tokens of the same epoch's batches
    # (accelerate's seedable sampler draws the same first-epoch permutation as a generator seeded alike)
    from bca.models import load_tokenizer
    from bca.tasks.classification import classification_loaders
    from bca.tasks.registry import load_task

    loader, _ = classification_loaders(load_task(cfg.task), load_tokenizer(cfg.model), cfg.trainer, cfg.trainer.seed)
    tokens = record["time"]["tokens"]
    assert tokens == sum(batch["input_ids"].numel() for batch in loader)
    assert summary["compare/tokens_per_s"] == record["time"]["tokens_per_s"]
    assert record["time"]["tokens_per_s"] == pytest.approx(tokens / (record["time"]["step_s"] * 2), rel=1e-2)

    history_keys = {
        (u.key or "/".join(u.nested_key))
        for r in logged
        if r.WhichOneof("record_type") == "history"
        for u in r.history.item
    }
    assert {"train/loss", "train/grad_norm", "eval/accuracy"} <= history_keys
