"""The fit loop, read top to bottom: AdamW + warmup/decay, one optimiser step, the epoch loop, the best epoch.

accelerate places the model and data, shards batches across processes and gathers eval predictions
without the duplicates of the last uneven batch, so the same loop runs on 1 CPU or N GPUs.
A non-finite loss or gradient norm ends the run as ``diverged`` (with the step and the last finite loss)
instead of silently training on NaNs.

Gradient accumulation keeps ``trainer.batch_size`` the batch of one optimiser step: the loader yields
micro-batches of ``batch_size / grad_accum_steps`` and the step's gradient is the mean of their mean losses'
gradients, so accumulating changes memory, not the maths (up to float summation order).

Every epoch (and every ``trainer.checkpoint_every`` steps) the trainable state is checkpointed
(``bca.run.checkpoint``); a rerun of the same config resumes from the last checkpoint and ends with the same
metrics. Task families plug in through the task registry (``bca.tasks.registry.task_runtime``): it returns the
train loader and an ``evaluate(model)`` callable, so the loop never knows whether it is classifying sentences
or solving GSM8K. An ``evaluate.losses`` callable (instruction tasks: held-out response loss, forgetting) is
also measured at step 0, every ``losses.every`` steps and at every evaluation, into ``metrics["curve"]`` and
the eval dicts.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import get_scheduler

from bca.config.schema import SCHEDULERS
from bca.run.checkpoint import Checkpointer, run_checkpoints
from bca.tasks.metrics import LOWER_IS_BETTER
from bca.tasks.registry import task_runtime

# ---- state and result ---------------------------------------------------------------------------------------


class Diverged(RuntimeError):
    def __init__(self, step: int, last_finite_loss: float | None, what: str):
        super().__init__(f"non-finite {what} at step {step} (last finite loss {last_finite_loss})")
        self.step, self.last_finite_loss, self.what = step, last_finite_loss, what


@dataclass
class TrainState:
    """Everything the loop accumulates; also what a checkpoint must restore."""

    step: int = 0
    epoch: int = 0
    epochs: list[dict] = field(default_factory=list)
    step_seconds: float = 0.0
    tokens: int = 0  # input tokens (padding included) of this process's training batches: throughput
    last_finite_loss: float | None = None
    batches_in_epoch: int = 0  # the data position: (micro-)batches of the current epoch already trained on
    epoch_losses: list[float] = field(default_factory=list)  # its steps' losses (the epoch's train_loss is the mean)
    window_losses: list[float] = field(default_factory=list)  # micro-batch losses of the step being accumulated
    curve: list[dict] = field(default_factory=list)  # {step, <loss>: value} points of the task's teacher-forced losses

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


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


# ---- schedule and one optimiser step ----------------------------------------------------------------------


def total_steps(trainer_cfg, micro_batches_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps, epochs): ``max_steps`` wins over ``epochs`` when set, as in HF's Trainer (0: eval only).

    An epoch's last step may accumulate fewer micro-batches (accelerate syncs at the end of the loader).
    """
    per_epoch = math.ceil(micro_batches_per_epoch / trainer_cfg.grad_accum_steps)
    if trainer_cfg.max_steps is not None:
        return trainer_cfg.max_steps, math.ceil(trainer_cfg.max_steps / per_epoch)
    return trainer_cfg.epochs * per_epoch, trainer_cfg.epochs


def make_scheduler(optimizer, trainer_cfg, steps: int):
    warmup = int(round(trainer_cfg.warmup_ratio * steps))
    name = SCHEDULERS[trainer_cfg.scheduler]  # every one warms up linearly over warmup_ratio of the steps
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=steps)


def loss_scale(trainer_cfg, micro_index: int, micro_batches_per_epoch: int) -> float:
    """Weight of a micro-batch's loss so that every step averages its own micro-batches.

    accelerate divides each loss by ``grad_accum_steps``; an epoch's last window may hold fewer micro-batches
    (r < n), and n / r restores the mean there instead of under-weighting that step.
    """
    n = trainer_cfg.grad_accum_steps
    start = (micro_index // n) * n
    return n / min(n, micro_batches_per_epoch - start)


def grad_norm(params) -> torch.Tensor:
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.tensor(0.0)


def train_step(
    accelerator: Accelerator, model, batch, optimizer, scheduler, trainer_cfg, state: TrainState, scale: float = 1.0
):
    """Forward + backward of one (micro-)batch, and the optimiser step when its window is complete.

    Returns (loss, grad norm) of the step taken, or None while gradients are still being accumulated.
    Raises ``Diverged`` on a non-finite loss or gradient norm.
    """
    t0 = time.perf_counter()
    state.tokens += batch["input_ids"].numel()
    with accelerator.accumulate(model):
        loss = model(**batch).loss
        # Every process must take the same decision, or one stops while the others wait in the gradient
        # all-reduce; the mean over processes is also the loss of the whole (split) batch, as one process has it.
        losses = accelerator.gather(loss.detach().reshape(1))
        if not torch.isfinite(losses).all():
            raise Diverged(state.step + 1, state.last_finite_loss, "loss")
        accelerator.backward(loss * scale if scale != 1.0 else loss)
        state.window_losses.append(losses.mean().item())
        if not accelerator.sync_gradients:
            state.step_seconds += time.perf_counter() - t0
            return None
        step_loss = sum(state.window_losses) / len(state.window_losses)
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if trainer_cfg.max_grad_norm:
            norm = accelerator.clip_grad_norm_(params, trainer_cfg.max_grad_norm)
        else:
            norm = grad_norm(params)
        if not torch.isfinite(norm):
            raise Diverged(state.step + 1, step_loss, "gradient norm")
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.window_losses = []
    state.last_finite_loss = step_loss
    state.step_seconds += time.perf_counter() - t0
    return state.last_finite_loss, float(norm)


# ---- the best epoch and the loop ------------------------------------------------------------------------


def best_epoch(epochs: list[dict], metric: str) -> dict | None:
    """The epoch with the best dev ``metric``: the highest, the lowest for a loss (``LOWER_IS_BETTER``; papers
    report the best dev epoch); earliest on ties."""
    sign = -1 if metric in LOWER_IS_BETTER else 1
    scored = [e for e in epochs if e.get("eval") and metric in e["eval"]]
    return max(scored, key=lambda e: (sign * e["eval"][metric], -e["epoch"])) if scored else None


def epoch_metrics(epochs: list[dict], metric_name: str) -> dict:
    """``record["metrics"]``: every finished epoch and the best dev epoch among them."""
    best = best_epoch(epochs, metric_name)
    return {
        "epochs": epochs,
        "metric_for_best": metric_name,
        "best": {"epoch": best["epoch"], "eval": best["eval"], "label": "best dev epoch"} if best else None,
    }


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
