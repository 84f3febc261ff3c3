"""The instruction-tuning runtime the loop plugs in: a bucketed SFT train loader and a generate-and-score eval.

``bca.tasks.registry.task_runtime`` calls ``instruct_runtime`` for ``task.kind == "instruct"``; the loop then trains on
``model(**batch).loss`` (the causal-LM loss, on response tokens only) and calls ``evaluate(model)`` after
each epoch, which generates greedily for every eval problem and reports exact-match accuracy.
``evaluate.losses`` (``bca.tasks.instruct.heldout``, when the task asks for them) adds the held-out response loss
and forgetting, which the loop also measures at step 0.
"""

from __future__ import annotations

import logging

from torch.utils.data import DataLoader

from bca.tasks.batching import micro_batch_size
from bca.tasks.instruct.answers import extract_answer, normalise_number
from bca.tasks.instruct.batching import CausalCollator, LengthBucketBatchSampler
from bca.tasks.instruct.generate import generate_texts
from bca.tasks.instruct.heldout import HeldoutLosses, general_examples
from bca.tasks.instruct.prompts import PromptFormat, end_token_id

log = logging.getLogger(__name__)


def encode_train(rows, fmt: PromptFormat, max_length: int) -> list[dict]:
    """Tokenised training examples; those whose prompt alone fills ``max_length`` are dropped (with a warning)."""
    encoded = [fmt.encode(r["instruction"], r["input"], r["response"], max_length) for r in rows]
    kept = [{"input_ids": e["input_ids"], "labels": e["labels"]} for e in encoded if e["trainable"]]
    truncated = sum(len(e["input_ids"]) == max_length for e in kept)
    if len(kept) < len(encoded) or truncated:
        log.warning(
            "max_length=%d: dropped %d examples whose prompt fills it, truncated %d responses (raise task.max_length)",
            max_length,
            len(encoded) - len(kept),
            truncated,
        )
    if not kept:
        raise ValueError(f"no training example fits in max_length={max_length}; raise task.max_length")
    return kept


class GenerationEval:
    """``evaluate(model) -> {"accuracy", "answered"}`` by greedy generation; keeps the last outputs to inspect."""

    def __init__(self, accelerator, rows, fmt: PromptFormat, tokenizer, max_new_tokens: int, batch_size: int,
                 progress: bool):  # fmt: skip
        self.accelerator, self.tokenizer = accelerator, tokenizer
        self.prompts = [fmt.prompt_ids(r["instruction"], r["input"]) for r in rows]
        self.references = [normalise_number(a) for a in rows["answer"]]
        self.kwargs = {
            "end_token_id": end_token_id(tokenizer),
            "pad_token_id": tokenizer.pad_token_id,
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "progress": progress,
        }
        self.last: list[dict] = []
        self.losses: HeldoutLosses | None = None  # the loop measures these too (step 0, curve, every eval)

    def __call__(self, model) -> dict:
        texts = generate_texts(self.accelerator, model, self.prompts, self.tokenizer, **self.kwargs)
        predictions = [extract_answer(t) for t in texts]
        correct = [p is not None and p == ref for p, ref in zip(predictions, self.references, strict=True)]
        self.last = [
            {"generated": t, "predicted": p, "reference": ref, "correct": c}
            for t, p, ref, c in zip(texts, predictions, self.references, correct, strict=True)
        ]
        n = max(len(correct), 1)
        return {"accuracy": sum(correct) / n, "answered": sum(p is not None for p in predictions) / n}


class LossesOnly:
    """``task.generate=false``: an evaluation that generates nothing; the loop adds ``evaluate.losses``."""

    def __call__(self, model) -> dict:
        return {}


def instruct_runtime(accelerator, cfg, splits, tokenizer):
    """(train loader, evaluate): length-bucketed SFT batches and GSM8K-style exact-match evaluation."""
    fmt = PromptFormat.for_tokenizer(tokenizer)
    train = encode_train(splits.train, fmt, cfg.task.max_length or cfg.trainer.max_length)
    lengths = [len(e["input_ids"]) for e in train]
    sampler = LengthBucketBatchSampler(
        lengths, micro_batch_size(cfg.trainer), cfg.trainer.seed, short_last=accelerator.num_processes > 1
    )
    train_loader = DataLoader(train, batch_sampler=sampler, collate_fn=CausalCollator(tokenizer.pad_token_id))
    if cfg.task.generate:
        evaluate = GenerationEval(
            accelerator,
            splits.eval,
            fmt,
            tokenizer,
            max_new_tokens=cfg.task.max_new_tokens,
            batch_size=cfg.trainer.eval_batch_size,
            progress=cfg.trainer.progress,
        )
    else:
        evaluate = LossesOnly()
    evaluate.losses = heldout_losses(accelerator, cfg, splits, fmt, tokenizer)
    return train_loader, evaluate


def heldout_losses(accelerator, cfg, splits, fmt: PromptFormat, tokenizer) -> HeldoutLosses | None:
    """The task's teacher-forced losses, or None when it asks for none (``task.heldout_loss_samples`` and
    ``task.forgetting_samples`` 0). Batched like training (micro-batches): the full-vocabulary logits of a
    batch are what bounds memory, and training has shown that batch fits."""
    heldout, general = getattr(splits, "heldout", None), getattr(splits, "general", None)
    if heldout is None and general is None:
        return None
    max_length = cfg.task.max_length or cfg.trainer.max_length
    return HeldoutLosses(
        accelerator,
        heldout=encode_train(heldout, fmt, max_length) if heldout is not None else None,
        general=general_examples(general, tokenizer, max_length) if general is not None else None,
        pad_token_id=tokenizer.pad_token_id,
        batch_size=micro_batch_size(cfg.trainer),
        every=cfg.task.heldout_loss_every,
        progress=cfg.trainer.progress,
    )
