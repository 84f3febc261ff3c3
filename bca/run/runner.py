"""One run end to end: validate -> load -> apply method -> train/eval -> one record.

Every (model, method, task) combination goes through ``run``; it takes a resolved config object with
attribute access (an OmegaConf DictConfig from Hydra, or anything alike) and returns the record it wrote.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from omegaconf import OmegaConf

from bca.config.validate import ConfigProblems, check_run
from bca.count.counting import record_counts
from bca.methods import apply_method, optimizer_groups, split_trainable
from bca.models import load_model
from bca.run import checkpoint, compare, records, system, tracking
from bca.run import lock as run_lock
from bca.run.disk import DiskFull
from bca.run.fit import fit
from bca.run.process import is_main_process
from bca.tasks.registry import load_task
from bca.tasks.trivial import splits_facts


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def prepare(cfg):
    """Check and load everything a run needs; every config/data problem is raised here, before training."""
    problems = []
    try:
        splits = load_task(cfg.task)
    except ValueError as err:  # TaskDataError: missing files, hub offline, bad columns
        problems.append(str(err))
        splits = None
    try:
        check_run(cfg, num_labels=splits.num_labels if splits else 2)  # None for causal LMs
    except ConfigProblems as err:
        problems = err.problems + problems
    if problems:
        raise ConfigProblems(problems)
    return splits


def build(cfg, splits):
    loaded = load_model(cfg.model, num_labels=splits.num_labels, causal=cfg.model.causal)
    model = apply_method(loaded.model, cfg.method, cfg.model.head_modules)
    return model, loaded.tokenizer


def param_counts(model, method_cfg, head_modules) -> dict:
    split = split_trainable(model, method_cfg, head_modules)
    total = sum(p.numel() for p in model.parameters())
    return {
        "adapter": split.adapter_count,
        "head": split.head_count,
        "trainable": split.adapter_count + split.head_count,
        "total": total,
    }


def run(cfg, force: bool = False) -> dict:
    """Train and evaluate one config; skip it if a finished record with the same run id exists.

    Raises run_lock.RunLocked, having done nothing, if another live process is training the same run.
    """
    config = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    rid = records.run_id(config)
    path = records.record_path(cfg.results_dir, rid)
    if not force and records.finished(path):
        print(f"[bca] run {rid} already finished: {path} (skipped)")
        return records.read_record(path)
    splits = prepare(cfg)  # read-only: a rejected config leaves nothing behind, not even a lock
    _say_if_damaged(path)
    # Under accelerate launch the main process holds the lock for all ranks (RANK is set before Accelerator).
    with run_lock.hold(cfg.results_dir, rid, enabled=is_main_process()):
        if not force and records.finished(path):  # another process finished it between the check and the lock
            print(f"[bca] run {rid} finished meanwhile in another process: {path} (skipped)")
            return records.read_record(path)
        return _train(cfg, config, rid, path, force, splits)


def _say_if_damaged(path) -> None:
    """A record that exists but does not validate counts as not done: say so before redoing the run."""
    if path.exists():
        try:
            records.read_record(path)
        except records.RecordError as err:
            print(f"[bca] damaged record, the run is redone and the record replaced: {err}", file=sys.stderr)


def _train(cfg, config: dict, rid: str, path, force: bool, splits) -> dict:
    if force:
        checkpoint.clear(cfg.results_dir, rid)
    accelerator = Accelerator(
        # Several processes and no GPU (accelerate launch / torchrun on CPU): gloo on CPU, not "no distribution".
        cpu=int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.accelerator.is_available(),
        mixed_precision=cfg.trainer.mixed_precision,
        gradient_accumulation_steps=cfg.trainer.grad_accum_steps,
        # split_batches: trainer.batch_size is the global batch, so N processes take the same steps as one;
        # the seedable sampler makes the shuffle order a function of (seed, epoch), which resuming relies on.
        dataloader_config=DataLoaderConfiguration(
            split_batches=True, use_seedable_sampler=True, data_seed=cfg.trainer.seed
        ),
    )
    set_seed(cfg.trainer.seed)
    model, tokenizer = build(cfg, splits)
    record = {
        "schema_version": records.SCHEMA_VERSION,
        "run_id": rid,
        "status": "running",
        "config": config,
        "params": param_counts(model, cfg.method, cfg.model.head_modules),
        "versions": system.versions(),
        "git": system.git_state(),
        "started_at": now(),
        "error": None,
    }
    facts = splits_facts(splits)  # the best constant predictor's scores on the eval set (bca.tasks.trivial)
    if facts is not None:
        record["eval_set"] = facts
    # Adapter/whole-network FLOPs at this run's batch shape, counted on a meta twin (bca.count.counting).
    record["flops"] = record_counts(model, cfg)
    groups = optimizer_groups(model, cfg.method, cfg.trainer.weight_decay, cfg.model.head_modules)
    record["optimizer"] = {g["name"]: {"lr": g["lr"], "params": sum(p.numel() for p in g["params"])} for g in groups}
    columns = {"compare": compare.before_training(record)}  # wandb config: compare.method, compare.adapter_params, ...
    tracker = tracking.start(cfg.logger, {**config, **columns}, rid, accelerator.is_main_process)
    t0 = time.perf_counter()
    try:
        result = fit(accelerator, cfg, model, tokenizer, splits, groups, tracker, path)
    except BaseException as err:
        record.update(status="failed", error=failure(err), metrics=getattr(err, "partial_metrics", None))
        try:
            _finish(accelerator, record, path, t0, tracker, exit_code=1)
        except Exception as write_err:  # noqa: BLE001 - e.g. the same full disk: the first error is the one to show
            if not isinstance(write_err, DiskFull) or not isinstance(err, DiskFull):
                print(f"[bca] the failed run's record could not be written either: {write_err}", file=sys.stderr)
        if isinstance(err, KeyboardInterrupt) and accelerator.is_main_process:
            print(f"[bca] {record['error']['message']}", file=sys.stderr)
        raise
    record.update(status=result.status, error=result.error, metrics=result.metrics)
    record.update(resumed_from_step=result.resumed_from_step, checkpoint=result.checkpoint)
    record["time"] = {
        "train_s": round(result.train_seconds, 3),
        "steps": result.steps,
        "step_s": round(result.step_seconds / max(result.steps, 1), 5),
        "tokens": result.tokens,
        "tokens_per_s": round(result.tokens / result.step_seconds, 1) if result.step_seconds else None,
    }
    _finish(accelerator, record, path, t0, tracker, exit_code=0 if result.status == "ok" else 1)
    return record


def failure(err: BaseException) -> dict:
    """``record["error"]`` of a run that raised: its type and a message that says what happened."""
    message = str(err)
    if isinstance(err, KeyboardInterrupt):
        step = getattr(err, "partial_step", None)
        done = len((getattr(err, "partial_metrics", None) or {}).get("epochs") or [])
        message = (
            f"interrupted (Ctrl-C / SIGINT){f' at step {step}' if step is not None else ''} after {done} finished "
            "epoch(s), kept in metrics; run the same command again to resume from the last checkpoint"
        )
    return {"type": type(err).__name__, "message": message or repr(err)}


def _finish(accelerator, record: dict, path, t0: float, tracker, exit_code: int) -> None:
    record.setdefault("time", {})["wall_s"] = round(time.perf_counter() - t0, 3)
    record["memory"] = system.peak_memory_mb()
    record["finished_at"] = now()
    if accelerator.is_main_process:
        best = (record.get("metrics") or {}).get("best")
        tracker.summary(
            {
                "status": record["status"],
                **({"best/" + k: v for k, v in best["eval"].items()} if best else {}),
                "params/adapter": record["params"]["adapter"],
                "params/head": record["params"]["head"],
                **compare.after_training(record),
            }
        )
        try:
            records.write_record(path, record)
        except BaseException:
            tracker.finish(1)
            raise
        print(f"[bca] record written: {path} (status {record['status']})")
    tracker.finish(exit_code)
    accelerator.wait_for_everyone()
