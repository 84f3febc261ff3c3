"""The accelerate training/eval loop: AdamW, a warmup + decay schedule, evaluate every epoch, keep the best epoch.

accelerate places the model and data, shards batches across processes and gathers eval predictions
without the duplicates of the last uneven batch, so the same loop runs on 1 CPU or N GPUs.
A non-finite loss or gradient norm ends the run as ``diverged`` (with the step and the last finite loss)
instead of silently training on NaNs.

Gradient accumulation keeps ``trainer.batch_size`` the batch of one optimiser step: the loader yields
micro-batches of ``batch_size / grad_accum_steps`` and the step's gradient is the mean of their mean losses'
gradients, so accumulating changes memory, not the maths (up to float summation order).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import get_scheduler


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


SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}
"""trainer.scheduler -> transformers' name; every one warms up linearly over ``warmup_ratio`` of the steps."""


def micro_batch_size(trainer_cfg) -> int:
    """What the train loader yields: the optimiser step's batch split into ``grad_accum_steps`` micro-batches."""
    return trainer_cfg.batch_size // trainer_cfg.grad_accum_steps


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
    name = SCHEDULERS[trainer_cfg.scheduler]
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


@torch.no_grad()
def predict(accelerator: Accelerator, model, loader, is_regression: bool, progress: bool):
    """Predictions and labels over the whole eval set, gathered across processes without duplicates."""
    model.eval()
    preds, labels = [], []
    for batch in tqdm(loader, desc="eval", leave=False, disable=not (progress and accelerator.is_main_process)):
        logits = model(**batch).logits
        out = logits.squeeze(-1) if is_regression else logits.argmax(-1)
        out, lab = accelerator.gather_for_metrics((out, batch["labels"]))
        preds.append(out.float().cpu() if is_regression else out.cpu())
        labels.append(lab.cpu())
    model.train()
    return torch.cat(preds).tolist(), torch.cat(labels).tolist()


def best_epoch(epochs: list[dict], metric: str) -> dict | None:
    """The epoch with the highest dev ``metric`` (papers report the best dev epoch); earliest on ties."""
    scored = [e for e in epochs if e.get("eval") and metric in e["eval"]]
    return max(scored, key=lambda e: (e["eval"][metric], -e["epoch"])) if scored else None
