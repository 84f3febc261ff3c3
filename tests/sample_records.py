"""The smallest record the readers accept (``bca.run.records.record_problems``): for tests of writing and reading."""


def sample_record(run_id: str, status: str = "ok", **extra) -> dict:
    record = {
        "run_id": run_id,
        "status": status,
        "config": {
            "model": {"name": "tiny-roberta"},
            "method": {"name": "lora", "r": 8},
            "task": {"name": "rte", "max_train_samples": None},
            "trainer": {"seed": 0, "epochs": 1, "max_steps": None},
        },
        "params": {"adapter": 8},
        "metrics": {"metric_for_best": "accuracy", "best": {"epoch": 1, "eval": {"accuracy": 0.5}}},
    }
    return {**record, **extra}
