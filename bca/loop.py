"""Epoch loop: train with progress bars, evaluate after every epoch, track the best dev epoch, log.

Every epoch (and every ``trainer.checkpoint_every`` steps) the trainable state is checkpointed
(``bca.checkpoint``); a rerun of the same config resumes from the last checkpoint and ends with the same metrics.

Task families plug in through ``task_runtime``: it returns the train loader and an ``evaluate(model)``
callable, so the loop itself never knows whether it is classifying sentences or solving GSM8K. An
``evaluate.losses`` callable (instruction tasks: held-out response loss, forgetting) is also measured at
step 0, every ``losses.every`` steps and at every evaluation, into ``metrics["curve"]`` and the eval dicts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from bca.checkpoint import Checkpointer, run_checkpoints
from bca.train import Diverged, TrainState, best_epoch, loss_scale, make_scheduler, predict, total_steps, train_step


@dataclass
class FitResult:
    status: str
    error: dict | None
    metrics: dict
    steps: int
    step_seconds: float
    train_seconds: float
    resumed_from_step: int | None = None
    checkpoint: str | None = None
    tokens: int = 0  # input tokens trained on, all processes (padding included)


def epoch_metrics(epochs: list[dict], metric_name: str) -> dict:
    """``record["metrics"]``: every finished epoch and the best dev epoch among them."""
    best = best_epoch(epochs, metric_name)
    return {
        "epochs": epochs,
        "metric_for_best": metric_name,
        "best": {"epoch": best["epoch"], "eval": best["eval"], "label": "best dev epoch"} if best else None,
    }


def classification_runtime(accelerator, cfg, splits, tokenizer):
    from bca.data import classification_loaders
    from bca.metrics import load_glue_metric

    train_loader, eval_loader = classification_loaders(splits, tokenizer, cfg.trainer, cfg.trainer.seed)
    metric = load_glue_metric(cfg.task.name)
    eval_loader = accelerator.prepare(eval_loader)

    def evaluate(model) -> dict:
        preds, labels = predict(accelerator, model, eval_loader, splits.is_regression, cfg.trainer.progress)
        return {k: float(v) for k, v in metric.compute(predictions=preds, references=labels).items()}

    return train_loader, evaluate


def task_runtime(accelerator, cfg, splits, tokenizer):
    """(train loader, evaluate) for the task's family: instruction tasks generate, the rest classify."""
    if cfg.task.kind == "instruct":
        from bca.instruct.runtime import instruct_runtime

        return instruct_runtime(accelerator, cfg, splits, tokenizer)
    return classification_runtime(accelerator, cfg, splits, tokenizer)


def loss_point(state, losses, model, tracker) -> dict:
    """The teacher-forced losses at the current step, measured once per step and kept in ``state.curve``."""
    if not state.curve or state.curve[-1]["step"] != state.step:
        point = losses(model)
        state.curve.append({"step": state.step, **point})
        tracker.log({f"eval/{k}": v for k, v in point.items()}, step=state.step)
    return {k: v for k, v in state.curve[-1].items() if k != "step"}


def fit(accelerator, cfg, model, tokenizer, splits, groups, tracker, record_path) -> FitResult:
    train_loader, evaluate = task_runtime(accelerator, cfg, splits, tokenizer)
    losses = getattr(evaluate, "losses", None)  # optional: teacher-forced losses, cheap next to generation
    micro_batches = len(train_loader)  # per epoch; = batches when trainer.grad_accum_steps is 1
    steps, epochs = total_steps(cfg.trainer, micro_batches)
    optimizer = torch.optim.AdamW(groups)
    scheduler = make_scheduler(optimizer, cfg.trainer, steps)
    model, optimizer, train_loader, scheduler = accelerator.prepare(model, optimizer, train_loader, scheduler)
    state = TrainState()
    # The record path is <results_dir>/records/<run_id>.json: checkpoints go under the same run id.
    checkpoints = Checkpointer(accelerator, run_checkpoints(cfg.results_dir, Path(record_path).stem), state)
    resumed_from = checkpoints.restore()
    every = cfg.trainer.checkpoint_every
    metric_name = splits.metric_for_best
    show = cfg.trainer.progress and accelerator.is_main_process
    bar = tqdm(
        total=steps, initial=state.step, desc=f"{cfg.method.name}/{cfg.task.name}", disable=not show,
        dynamic_ncols=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    status, error = "ok", None
    model.train()
    try:
        if losses is not None and state.step == 0:  # before any training (a resumed run has it already)
            loss_point(state, losses, model, tracker)
        while state.epoch < epochs and state.step < steps:
            # The shuffle order is a function of (seed, epoch); a resumed run skips the batches already taken.
            train_loader.set_epoch(state.epoch)
            batches = (
                accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
                if state.batches_in_epoch
                else train_loader
            )
            for batch in batches:
                scale = loss_scale(cfg.trainer, state.batches_in_epoch, micro_batches)
                taken = train_step(accelerator, model, batch, optimizer, scheduler, cfg.trainer, state, scale)
                state.batches_in_epoch += 1
                if taken is None:  # still accumulating: no step to log, count or checkpoint yet
                    continue
                loss, norm = taken
                state.epoch_losses.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if state.step % cfg.trainer.log_every == 0 or state.step == 1:
                    lrs = {f"lr/{g['name']}": g["lr"] for g in optimizer.param_groups}
                    tracker.log({"train/loss": loss, "train/grad_norm": norm, **lrs}, step=state.step)
                if losses is not None and losses.every and state.step % losses.every == 0:
                    loss_point(state, losses, model, tracker)  # before the checkpoint, so a resume keeps it
                if state.step >= steps:
                    break
                if every and state.step % every == 0:
                    checkpoints.save()
            state.epoch += 1
            scores = evaluate(model)
            if losses is not None:
                scores.update(loss_point(state, losses, model, tracker))
            entry = {
                "epoch": state.epoch,
                "step": state.step,
                "train_loss": sum(state.epoch_losses) / max(len(state.epoch_losses), 1),
                "eval": scores,
            }
            state.epochs.append(entry)
            state.batches_in_epoch, state.epoch_losses = 0, []
            checkpoints.save()
            tracker.log({**{f"eval/{k}": v for k, v in scores.items()}, "epoch": state.epoch}, step=state.step)
            if show:
                bar.write(
                    f"epoch {state.epoch}: train loss {entry['train_loss']:.4f}, eval "
                    + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
                )
        if steps == 0:  # trainer.max_steps=0: evaluate the untrained model once (zero-shot baseline)
            scores = evaluate(model)
            if losses is not None:
                scores.update(loss_point(state, losses, model, tracker))
            state.epochs.append({"epoch": 0, "step": 0, "train_loss": None, "eval": scores})
            tracker.log({f"eval/{k}": v for k, v in scores.items()}, step=0)
    except Diverged as err:
        status = "diverged"
        error = {
            "type": "Diverged",
            "message": str(err),
            "step": err.step,
            "last_finite_loss": err.last_finite_loss,
            "what": err.what,
        }
        if show:
            bar.write(f"[bca] {err}: run marked diverged")
    except BaseException as err:  # Ctrl-C, a crash: the runner records the epochs finished so far
        err.partial_metrics, err.partial_step = epoch_metrics(state.epochs, metric_name), state.step
        raise
    finally:
        bar.close()
    metrics = epoch_metrics(state.epochs, metric_name)
    if state.curve:
        metrics["curve"] = state.curve
    return FitResult(
        status, error, metrics, state.step, state.step_seconds, time.perf_counter() - t0, resumed_from,
        str(checkpoints.last) if checkpoints.last else None, state.tokens * accelerator.num_processes,
    )  # fmt: skip
