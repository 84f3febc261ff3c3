"""Held-out response loss and forgetting: batched figures against a hand computation, and what a run records.

The reference is written out from the definition on each example alone (no padding, no batching):
``log_softmax`` of the logits at position t, the log-probability of token t + 1, kept where the label is
not -100, summed over all examples and divided by the number of kept tokens.
"""

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from crashes import Crash, crash_at
from safetensors.torch import load_file

from bca.config.hydra_app import compose
from bca.methods import apply_method
from bca.models import load_model
from bca.run import records
from bca.run.runner import run
from bca.tasks.instruct.base_model import adapters_disabled
from bca.tasks.instruct.heldout import general_examples
from bca.tasks.instruct.lm_loss import mean_token_nll
from bca.tasks.instruct.prompts import IGNORE_INDEX, PromptFormat
from bca.tasks.registry import load_task

RUN = [
    "model=tiny-llama",
    "task=gsm8k_synthetic",
    "task.max_train_samples=16",
    "task.max_eval_samples=4",
    "task.max_length=96",
    "task.max_new_tokens=2",
    "task.heldout_loss_samples=3",
    "task.forgetting_samples=6",
    "task.forgetting_task=gsm8k_synthetic",  # generated: no data files needed; its rows are not the training rows
    "trainer.batch_size=8",
    "trainer.eval_batch_size=4",
    "trainer.epochs=2",
    "trainer.progress=false",
    "logger=disabled",
]


def hand_nll(model, examples) -> float:
    """Mean NLL per target token, each example scored alone from log_softmax and its label mask."""
    total, count = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            ids = torch.tensor([ex["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
            for t in range(len(ex["input_ids"]) - 1):
                if ex["labels"][t + 1] != IGNORE_INDEX:
                    total -= logp[t, ex["labels"][t + 1]].item()
                    count += 1
    return total / count


SMALL = {"vera": ["method.r=8"], "fourierft": ["method.n_frequency=20"]}  # tiny-llama's layers are 32 x 16


def tiny_model(method="lora", seed=0):
    cfg = compose(["model=tiny-llama", f"method={method}", *SMALL.get(method, [])])
    torch.manual_seed(seed)
    loaded = load_model(cfg.model, causal=True)
    return loaded.model, loaded.tokenizer, cfg


def test_batched_padded_nll_equals_the_hand_computation():
    model, tok, _ = tiny_model()
    gen = torch.Generator().manual_seed(0)
    examples = []
    for n, prompt in ((7, 3), (12, 5), (5, 1), (9, 9)):  # the last has no target at all: it adds nothing
        ids = torch.randint(5, 1000, (n,), generator=gen).tolist()
        examples.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    expected = hand_nll(model, examples)
    for batch_size in (1, 3, 4):  # the set's per-token mean, whatever the batching and padding
        got = mean_token_nll(Accelerator(), model, examples, batch_size=batch_size, pad_token_id=tok.pad_token_id)
        assert got == pytest.approx(expected, rel=1e-6)


def test_no_target_token_is_a_clear_error():
    model, tok, _ = tiny_model()
    with pytest.raises(ValueError, match="no target token"):
        mean_token_nll(Accelerator(), model, [{"input_ids": [5, 6], "labels": [IGNORE_INDEX] * 2}], 2, 0)


@pytest.mark.parametrize("method", ["lora", "vera", "fourierft", "c3a", "bca", "cdd"])
def test_adapters_disabled_computes_the_base_model_and_restores_the_adapted_one(method):
    model, _, cfg = tiny_model(method)
    ids = torch.tensor([[5, 17, 400, 31, 9]])
    with torch.no_grad():
        base = model(input_ids=ids).logits.clone()
        model = apply_method(model, cfg.method)
        for p in model.parameters():
            if p.requires_grad:  # every adapter non-zero (BCA and LoRA's B start at 0)
                p.copy_(0.5 * torch.randn_like(p))
        adapted = model(input_ids=ids).logits.clone()
        grads = {n: p.requires_grad for n, p in model.named_parameters()}
        assert (adapted - base).abs().max() > 1e-3
        with adapters_disabled(model):
            off = model(input_ids=ids).logits
        again = model(input_ids=ids).logits
    assert torch.allclose(off, base, atol=1e-6) and torch.equal(again, adapted)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads


def test_general_text_takes_every_token_as_a_target():
    _, tok, _ = tiny_model()
    rows = [{"instruction": "Name a colour.", "input": "", "response": "Blue is a colour."}]
    (ex,) = general_examples(rows, tok, max_length=64)
    assert ex["labels"] == ex["input_ids"] == tok("Name a colour.\n\nBlue is a colour.")["input_ids"]
    (short,) = general_examples(rows, tok, max_length=4)
    assert len(short["input_ids"]) == 4


def _examples(cfg, splits, tok):
    fmt = PromptFormat.for_tokenizer(tok)
    heldout = [fmt.encode(r["instruction"], r["input"], r["response"], cfg.task.max_length) for r in splits.heldout]
    general = general_examples(splits.general, tok, cfg.task.max_length)
    return [e for e in heldout if e["trainable"]], general


@pytest.mark.parametrize("method", ["c3a", "lora"])  # C3A starts from a non-zero Delta W: step 0 is not the base
def test_run_records_step0_and_every_eval_against_a_hand_computation(method, tmp_path):
    cfg = compose([*RUN, f"method={method}", f"results_dir={tmp_path}"])
    record = run(cfg)
    assert record["status"] == "ok", record["error"]
    metrics = record["metrics"]
    curve = {p["step"]: p for p in metrics["curve"]}
    assert sorted(curve) == [0, 2, 4]  # step 0, then each of the 2 epochs' evaluations (2 steps each)
    for entry in metrics["epochs"]:  # recorded next to accuracy, equal to the curve at that step
        assert {"accuracy", "heldout_loss", "general_loss", "forgetting"} <= set(entry["eval"])
        assert all(entry["eval"][k] == v for k, v in curve[entry["step"]].items() if k != "step")

    # The run's own model at step 0 and at the end, rebuilt as the runner builds it, scored by hand.
    splits = load_task(cfg.task)
    set_seed(cfg.trainer.seed)
    loaded = load_model(cfg.model, num_labels=None, causal=True)
    heldout, general = _examples(cfg, splits, loaded.tokenizer)
    base_general = hand_nll(loaded.model, general)
    model = apply_method(loaded.model, cfg.method)
    step0 = curve[0]
    assert step0["heldout_loss"] == pytest.approx(hand_nll(model, heldout), rel=1e-6)
    assert step0["general_loss"] == pytest.approx(hand_nll(model, general), rel=1e-6)
    assert step0["forgetting"] == pytest.approx(hand_nll(model, general) - base_general, abs=1e-6)
    if method == "lora":  # B = 0: the step-0 model is the base model
        assert step0["forgetting"] == 0.0
    model.load_state_dict(load_file(f"{record['checkpoint']}/model.safetensors"), strict=False)  # trained adapter
    last = curve[4]
    assert last["heldout_loss"] == pytest.approx(hand_nll(model, heldout), rel=1e-6)
    assert last["forgetting"] == pytest.approx(hand_nll(model, general) - base_general, abs=1e-6)
    assert last["heldout_loss"] != step0["heldout_loss"]


def test_curve_every_n_steps_and_zero_shot(tmp_path):
    every = run(compose([*RUN, "method=lora", "task.heldout_loss_every=1", f"results_dir={tmp_path}"]))
    assert [p["step"] for p in every["metrics"]["curve"]] == [0, 1, 2, 3, 4]
    zero = run(compose([*RUN, "method=lora", "trainer.max_steps=0", f"results_dir={tmp_path}"]))
    (entry,) = zero["metrics"]["epochs"]
    (point,) = zero["metrics"]["curve"]
    assert point["step"] == 0 and point["forgetting"] == 0.0 and entry["eval"]["heldout_loss"] == point["heldout_loss"]


def test_resumed_run_ends_with_the_uninterrupted_curve(tmp_path):
    cfg = [*RUN, "method=lora", "task.heldout_loss_every=1", "trainer.checkpoint_every=1", "trainer.log_every=1"]
    reference = run(compose([*cfg, f"results_dir={tmp_path / 'a'}"]))
    crashed = compose([*cfg, f"results_dir={tmp_path / 'b'}"])
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, 3)  # step 3 trained, neither its curve point nor its checkpoint taken
        with pytest.raises(Crash):
            run(crashed)
    resumed = run(crashed)
    assert resumed["resumed_from_step"] == 2 and resumed["metrics"] == reference["metrics"]


def test_losses_off_by_default_and_the_new_keys_keep_run_ids():
    cfg = compose([*RUN[:6], "method=lora"])
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(cfg, resolve=True)
    assert config["task"]["heldout_loss_samples"] == 0 and config["task"]["forgetting_samples"] == 0
    old = {**config, "task": {k: v for k, v in config["task"].items() if "heldout" not in k and "forgetting" not in k}}
    assert records.run_id(config) == records.run_id(old)
    on = {**config, "task": {**config["task"], "heldout_loss_samples": 5}}
    assert records.run_id(on) != records.run_id(config)


def test_committed_smollm2_records_keep_their_ids():
    """The trained runs of results/instruct_smollm2 (README commands), written before these keys existed."""
    from omegaconf import OmegaConf

    common = ["task=gsm8k", "model=smollm2-135m", "task.data_dir=/work/shared/data/gsm8k", "task.max_eval_samples=100",
              "trainer.eval_batch_size=50", "logger=disabled"]  # fmt: skip
    trained = ["task.max_train_samples=200", "trainer.epochs=1", "trainer.batch_size=8"]
    committed = Path(__file__).resolve().parents[1] / "results" / "instruct_smollm2"
    for method in ("lora", "bca"):
        config = OmegaConf.to_container(compose([*common, f"method={method}", *trained]), resolve=True)
        assert records.record_path(committed, records.run_id(config)).exists(), method
