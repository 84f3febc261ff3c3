"""Gradient accumulation changes memory, not maths; the schedulers follow their formulas; old run ids survive.

References: the same run without accumulation (dropout off, so both see the same computation); the cosine
and constant schedules written out by hand; and the committed MiniLM GLUE records, whose ids must not move
when a trainer key is added at its neutral default.
"""

import math
from pathlib import Path

import pytest
import torch
from crashes import Crash, crash_at
from omegaconf import OmegaConf

from bca.config.hydra_app import compose
from bca.paper import experiments
from bca.paper.reproduce_cells import compose_cells
from bca.run import records
from bca.run.fit import loss_scale, make_scheduler, total_steps
from bca.run.runner import run

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model=tiny-roberta",
    "+model.arch.hidden_dropout_prob=0.0",
    "+model.arch.attention_probs_dropout_prob=0.0",
    "task.max_train_samples=20",  # batch 8: batches of 8, 8, 4 -> the last step of an epoch is short
    "task.max_eval_samples=16",
    "trainer.batch_size=8",
    "trainer.epochs=2",
    "trainer.max_length=32",
    "trainer.progress=false",
    "trainer.log_every=1",
    "logger=disabled",
]


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory):
    return run(compose([*TINY, f"results_dir={tmp_path_factory.mktemp('big')}"]))


def test_two_micro_batches_give_the_big_batch_run(big_batch, tmp_path):
    accumulated = run(compose([*TINY, f"results_dir={tmp_path}", "trainer.grad_accum_steps=2"]))
    assert accumulated["time"]["steps"] == big_batch["time"]["steps"] == 6  # 3 steps per epoch, not 5
    for ours, ref in zip(accumulated["metrics"]["epochs"], big_batch["metrics"]["epochs"], strict=True):
        assert ours["step"] == ref["step"]
        assert ours["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-6, abs=1e-7)
        assert ours["eval"] == pytest.approx(ref["eval"], rel=1e-6)


def test_an_epochs_short_last_window_is_averaged_not_under_weighted():
    cfg = compose(["trainer.batch_size=8", "trainer.grad_accum_steps=2"]).trainer
    # 5 micro-batches per epoch: windows [0, 1], [2, 3], [4]; accelerate divides every loss by 2
    assert [loss_scale(cfg, i, 5) for i in range(5)] == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert total_steps(cfg, 5) == (9, 3)  # 3 steps per epoch x the default 3 epochs


def test_a_run_with_accumulation_resumes_to_the_uninterrupted_metrics(tmp_path):
    base = [*TINY, "trainer.grad_accum_steps=2", "trainer.checkpoint_every=2"]
    reference = run(compose([*base, f"results_dir={tmp_path / 'ref'}"]))
    cfg = compose([*base, f"results_dir={tmp_path / 'crashed'}"])
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, 5)  # after step 5 (epoch 2, mid-epoch), before any checkpoint of it
        with pytest.raises(Crash):
            run(cfg)
    resumed = run(cfg)
    assert resumed["resumed_from_step"] == 4
    assert resumed["metrics"] == reference["metrics"]  # exact


def lrs(name: str, steps: int = 20, warmup_ratio: float = 0.1) -> list[float]:
    cfg = compose([f"trainer.scheduler={name}", f"trainer.warmup_ratio={warmup_ratio}"]).trainer
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = make_scheduler(optimizer, cfg, steps)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_schedulers_follow_their_formulas_after_the_same_warmup():
    warm = [t / 2 for t in range(2)]  # 10% of 20 steps
    assert lrs("linear") == pytest.approx(warm + [(20 - t) / 18 for t in range(2, 20)])
    assert lrs("cosine") == pytest.approx(warm + [0.5 * (1 + math.cos(math.pi * (t - 2) / 18)) for t in range(2, 20)])
    assert lrs("constant") == pytest.approx(warm + [1.0] * 18)


def test_new_trainer_keys_at_their_defaults_keep_the_committed_record_ids():
    """The Rotten Tomatoes block-size records were written before trainer.scheduler/grad_accum_steps,
    trainer.group_by_length, task.holdout and model.head_modules existed (MiniLM's pooler was frozen then)."""
    committed = REPO / "results" / "bca_block_size_rt"
    base = [
        "method=bca",
        "task.max_train_samples=4000",
        "trainer.epochs=2",
        "trainer.max_length=64",
        "model.head_modules=[classifier,score]",
    ]  # as in the command that made them, old head spelled out
    exp = experiments.Experiment(
        "bca_block_size",
        "t",
        "r",
        ("rotten_tomatoes",),
        (0,),
        tuple(base),
        tuple(experiments.Row(f"p={p}", (f"method.block_size={p}",), {}) for p in (16, 64, 384)),
    )
    composed = compose_cells(exp, experiments.cells(exp))
    assert len(composed) == 3
    missing = [c.row for c, _, p in composed if not records.record_path(committed, p.stem).exists()]
    assert not missing, f"committed records no longer match their configs: {missing}"
    _, cfg, path = composed[0]
    changed = OmegaConf.to_container(cfg, resolve=True)
    changed["trainer"]["scheduler"] = "cosine"
    assert records.run_id(changed) != path.stem  # a non-default value is a different run
