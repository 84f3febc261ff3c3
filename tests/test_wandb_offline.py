"""The offline wandb run holds what dashboards need: config, group, tags, history and summary metrics."""

import json

from wandb_offline_log import records as wandb_records

from bca.hydra_app import compose
from bca.runner import run


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

    history_keys = {
        (u.key or "/".join(u.nested_key))
        for r in logged
        if r.WhichOneof("record_type") == "history"
        for u in r.history.item
    }
    assert {"train/loss", "train/grad_norm", "eval/accuracy"} <= history_keys
