"""The accelerate training/eval loop: AdamW, linear warmup/decay, evaluate every epoch, keep the best epoch.

accelerate places the model and data, shards batches across processes and gathers eval predictions
without the duplicates of the last uneven batch, so the same loop runs on 1 CPU or N GPUs.
A non-finite loss or gradient norm ends the run as ``diverged`` (with the step and the last finite loss)
instead of silently training on NaNs.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup


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
    last_finite_loss: float | None = None
    batches_in_epoch: int = 0  # the data position: batches of the current epoch already trained on
    epoch_losses: list[float] = field(default_factory=list)  # their losses (the epoch's train_loss is the mean)

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def total_steps(trainer_cfg, batches_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps, epochs): ``max_steps`` wins over ``epochs`` when set, as in HF's Trainer (0: eval only)."""
    if trainer_cfg.max_steps is not None:
        return trainer_cfg.max_steps, math.ceil(trainer_cfg.max_steps / batches_per_epoch)
    return trainer_cfg.epochs * batches_per_epoch, trainer_cfg.epochs


def make_scheduler(optimizer, trainer_cfg, steps: int):
    warmup = int(round(trainer_cfg.warmup_ratio * steps))
    return get_linear_schedule_with_warmup(optimizer, warmup, steps)


def grad_norm(params) -> torch.Tensor:
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.tensor(0.0)


def train_step(accelerator: Accelerator, model, batch, optimizer, scheduler, trainer_cfg, state: TrainState):
    """One optimiser step; returns (loss, grad norm). Raises ``Diverged`` on a non-finite value."""
    t0 = time.perf_counter()
    loss = model(**batch).loss
    # Every process must take the same decision, or one stops while the others wait in the gradient all-reduce;
    # the mean over processes is also the loss of the whole (split) batch, as one process would compute it.
    losses = accelerator.gather(loss.detach().reshape(1))
    if not torch.isfinite(losses).all():
        raise Diverged(state.step + 1, state.last_finite_loss, "loss")
    accelerator.backward(loss)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if trainer_cfg.max_grad_norm:
        norm = accelerator.clip_grad_norm_(params, trainer_cfg.max_grad_norm)
    else:
        norm = grad_norm(params)
    if not torch.isfinite(norm):
        raise Diverged(state.step + 1, losses.mean().item(), "gradient norm")
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.last_finite_loss = losses.mean().item()
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
