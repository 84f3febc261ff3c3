"""BCA's gradient explosion at large p, and the lr / p heuristic that fixes it (arXiv 2505.00582, Fig. 3).

    .venv/bin/python scripts/grad_explosion.py          # ~10 min on 2 CPU cores; writes results/grad_explosion.*

Two measurements on MiniLM-L6 (query + value adapted) and real Rotten Tomatoes batches:

1. At initialisation, the gradient of one circulant kernel entry vs p (zero-init BCA, the same batches):
   c_k appears p times in its block, so d loss / d c_k sums p entries of the dense gradient and grows with p,
   while the dense gradient (what LoRA-style parameters see) stays put.
2. Training BCA at p = 384 (= d) for a few hundred AdamW steps with the runner's default method config
   (lr 0.2, linear schedule with warmup), once with ``divide_lr_by_block_size`` (lr / p) and once without:
   the loss and the adapter gradient norm per step, then dev accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from benchlib import command_line

from bca.config.hydra_app import compose
from bca.methods import apply_method, optimizer_groups, split_trainable
from bca.models import load_model
from bca.run.fit import make_scheduler
from bca.tasks.classification import classification_loaders
from bca.tasks.registry import load_task

RESULTS = Path(__file__).resolve().parent.parent / "results"


def setup(p: int, heuristic: bool, args):
    overrides = [
        "method=bca",
        f"method.block_size={p}",
        f"method.divide_lr_by_block_size={str(heuristic).lower()}",
        f"trainer.batch_size={args.batch_size}",
        f"trainer.max_length={args.max_length}",
        f"task.max_eval_samples={args.eval_rows}",
    ]
    cfg = compose(overrides)
    torch.manual_seed(args.seed)
    splits = load_task(cfg.task)
    loaded = load_model(cfg.model, num_labels=splits.num_labels)
    model = apply_method(loaded.model, cfg.method)
    train_loader, eval_loader = classification_loaders(splits, loaded.tokenizer, cfg.trainer, args.seed)
    return cfg, model, train_loader, eval_loader


def adapter_grad_norm(model) -> float:
    grads = [p.grad.norm() for n, p in model.named_parameters() if "bca_" in n and p.grad is not None]
    return float(torch.stack(grads).norm())


def fold_dense_gradient(dense: torch.Tensor, p: int) -> torch.Tensor:
    """dL/dc from dL/dW for a block-circulant Delta W: entry k of block (i, j) sums its k-th wrapped diagonal."""
    d_out, d_in = dense.shape
    blocks = dense.view(d_out // p, p, d_in // p, p).permute(0, 2, 1, 3)  # [i, j, r, s]
    r = torch.arange(p)
    k = (r[:, None] - r[None, :]) % p  # the kernel index each (r, s) entry holds
    return torch.zeros(d_out // p, d_in // p, p).index_add_(2, k.flatten(), blocks.reshape(*blocks.shape[:2], -1))


def grad_at_init(p_values: list[int], args) -> list[dict]:
    """RMS gradient per kernel entry vs per dense weight entry at Delta W = 0, on the same batches, vs p."""
    rows = []
    for p in p_values:
        _, model, loader, _ = setup(p, True, args)
        model.train()
        layers = [m for m in model.modules() if hasattr(m, "bca_kernel")]
        for layer in layers:  # the dense gradient dL/dW of the same layers, from the same backward pass
            layer.base_layer.weight.requires_grad_(True)
        kernel_sq, dense_sq, fold_err = [], [], 0.0
        for batch in [b for _, b in zip(range(args.init_batches), loader, strict=False)]:
            model.zero_grad(set_to_none=True)
            model(**batch).loss.backward()
            kernel = torch.cat([m.bca_kernel.grad.flatten() for m in layers])
            dense = torch.cat([m.base_layer.weight.grad.flatten() for m in layers])
            kernel_sq.append(kernel.square().mean())
            dense_sq.append(dense.square().mean())
            folded = torch.cat([fold_dense_gradient(m.base_layer.weight.grad, p).flatten() for m in layers])
            fold_err = max(fold_err, float((folded - kernel).abs().max() / kernel.abs().max()))
        rows.append(
            {
                "p": p,
                "kernel_grad_rms": float(torch.stack(kernel_sq).mean().sqrt()),
                "dense_grad_rms": float(torch.stack(dense_sq).mean().sqrt()),
                "fold_check_rel_err": fold_err,  # kernel gradient == wrapped-diagonal sums of dL/dW
            }
        )
        print(f"init p={p}: {rows[-1]}", flush=True)
    return rows


def train(p: int, heuristic: bool, args) -> dict:
    cfg, model, loader, eval_loader = setup(p, heuristic, args)
    groups = optimizer_groups(model, cfg.method)
    adapter_lr = groups[0]["lr"]  # read before the warmup scheduler scales the groups' lr to 0
    optimizer = torch.optim.AdamW(groups)
    scheduler = make_scheduler(optimizer, cfg.trainer, args.steps)
    log = {"p": p, "heuristic": heuristic, "adapter_lr": adapter_lr, "steps": [], "loss": [], "grad_norm": []}
    model.train()
    step, t0 = 0, time.perf_counter()
    while step < args.steps:
        for batch in loader:
            loss = model(**batch).loss
            if not torch.isfinite(loss):
                log["diverged_at"] = step + 1
                break
            loss.backward()
            log["steps"].append(step + 1)
            log["loss"].append(loss.item())
            log["grad_norm"].append(adapter_grad_norm(model))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % 50 == 0:
                print(f"p={p} heuristic={heuristic} step {step} loss {loss.item():.4f}", flush=True)
            if step >= args.steps:
                break
        if "diverged_at" in log:
            break
    log["train_s"] = time.perf_counter() - t0
    log["dev_accuracy"] = None if "diverged_at" in log else accuracy(model, eval_loader)
    log["adapter_params"] = split_trainable(model, "bca").adapter_count
    return log


@torch.no_grad()
def accuracy(model, loader) -> float:
    model.eval()
    right = total = 0
    for batch in loader:
        right += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
        total += len(batch["labels"])
    model.train()
    return right / total


def plot(init_rows: list[dict], runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ps = [r["p"] for r in init_rows]
    axes[0].loglog(ps, [r["kernel_grad_rms"] for r in init_rows], "o-", label="BCA kernel entry")
    axes[0].loglog(ps, [r["dense_grad_rms"] for r in init_rows], "s--", label="dense weight entry (dL/dW)")
    ref = init_rows[0]["kernel_grad_rms"]
    axes[0].loglog(ps, [ref * math.sqrt(p / ps[0]) for p in ps], ":", color="gray", label="∝ sqrt(p)")
    axes[0].set(xlabel="block size p", ylabel="RMS gradient at init", title="Gradient per parameter vs p")
    axes[0].legend()
    for run in runs:
        label = f"p={run['p']}, " + ("lr/p (heuristic)" if run["heuristic"] else "lr (no heuristic)")
        line = axes[1].plot(run["steps"], run["loss"], alpha=0.25)[0]
        window = 20  # moving average: the per-batch loss of batch 16 is noisy
        loss = run["loss"]
        smooth = [sum(loss[max(0, i - window + 1) : i + 1]) / min(i + 1, window) for i in range(len(loss))]
        axes[1].plot(run["steps"], smooth, color=line.get_color(), label=f"{label}, {window}-step mean")
        axes[2].semilogy(run["steps"], run["grad_norm"], label=label, alpha=0.8)
    axes[1].set(xlabel="step", ylabel="training loss", title="Loss")
    axes[2].set(xlabel="step", ylabel="adapter gradient norm", title="Adapter gradient norm")
    for ax in axes[1:]:
        ax.legend()
    fig.suptitle("BCA on MiniLM-L6 (q, v), Rotten Tomatoes: gradient explosion at large p and the lr / p heuristic")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p", type=int, default=384, help="block size of the training runs (384 = d)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--eval-rows", type=int, default=500, help="dev rows for the final accuracy")
    parser.add_argument("--init-p", type=int, nargs="*", default=[8, 32, 96, 384], help="p values at init")
    parser.add_argument("--init-batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "grad_explosion")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init_rows = grad_at_init(args.init_p, args)
    runs = [train(args.p, True, args), train(args.p, False, args)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": command_line("grad_explosion.py", argv), "args": {k: str(v) for k, v in vars(args).items()}}
    args.out.with_suffix(".json").write_text(json.dumps({**payload, "init": init_rows, "runs": runs}, indent=1))
    plot(init_rows, runs, args.out.with_suffix(".png"))
    print(json.dumps({"init": init_rows, "runs": [summary(r) for r in runs]}, indent=1))


def summary(run: dict) -> dict:
    tail = run["loss"][-20:]
    return {
        "p": run["p"],
        "heuristic": run["heuristic"],
        "adapter_lr": run["adapter_lr"],
        "final_loss_mean20": sum(tail) / max(len(tail), 1),
        "max_grad_norm": max(run["grad_norm"], default=None),
        "median_grad_norm": sorted(run["grad_norm"])[len(run["grad_norm"]) // 2] if run["grad_norm"] else None,
        "diverged_at": run.get("diverged_at"),
        "dev_accuracy": run["dev_accuracy"],
    }


if __name__ == "__main__":
    main()
