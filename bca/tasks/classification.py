"""Sequence classification/regression: task splits -> tokenised DataLoaders, and the eval that scores them.

Padding is dynamic (per batch) and the eval loader sorts by length: on a 2-core CPU the time goes into
padding tokens otherwise. The train order is a seeded shuffle, so the same seed gives the same batches;
with ``trainer.group_by_length`` the shuffled batches hold rows of similar length (``bca.tasks.batching``),
which cuts the padding of pair tasks such as MRPC and RTE.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding

from bca.tasks.batching import LengthBucketBatchSampler, micro_batch_size


def tokenize(dataset, tokenizer, text_fields: tuple[str, ...], max_length: int, is_regression: bool):
    def encode(batch):
        texts = [batch[f] for f in text_fields]
        enc = tokenizer(*texts, truncation=True, max_length=max_length)
        enc["labels"] = [float(x) for x in batch["label"]] if is_regression else batch["label"]
        return enc

    return dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenize")


def classification_loaders(
    splits, tokenizer, trainer_cfg, seed: int, processes: int = 1
) -> tuple[DataLoader, DataLoader]:
    args = (tokenizer, splits.text_fields, trainer_cfg.max_length, splits.is_regression)
    train = tokenize(splits.train, tokenizer, *args[1:])
    evals = tokenize(splits.eval, tokenizer, *args[1:])
    # Sorting eval by length cuts padding; predictions are compared to labels in the same order.
    lengths = [len(ids) for ids in evals["input_ids"]]
    evals = evals.select(sorted(range(len(evals)), key=lambda i: lengths[i]))
    collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    generator = torch.Generator().manual_seed(seed)
    if getattr(trainer_cfg, "group_by_length", False):
        lengths = [len(ids) for ids in train["input_ids"]]
        sampler = LengthBucketBatchSampler(lengths, micro_batch_size(trainer_cfg), seed, short_last=processes > 1)
        # its own generator: otherwise every new iterator (each epoch, and a resume's skip) draws its base seed
        # from the global RNG, and a resumed run's dropout masks would be one draw off the uninterrupted run's
        train_loader = DataLoader(train, batch_sampler=sampler, collate_fn=collate, generator=generator)
    else:
        train_loader = DataLoader(
            train, batch_size=micro_batch_size(trainer_cfg), shuffle=True, collate_fn=collate, generator=generator
        )
    eval_loader = DataLoader(evals, batch_size=trainer_cfg.eval_batch_size, shuffle=False, collate_fn=collate)
    return train_loader, eval_loader


def classification_runtime(accelerator, cfg, splits, tokenizer):
    """(train loader, evaluate) for GLUE-style tasks: ``evaluate(model)`` is the task's metric on the eval split."""
    from bca.tasks.metrics import load_glue_metric

    train_loader, eval_loader = classification_loaders(
        splits, tokenizer, cfg.trainer, cfg.trainer.seed, accelerator.num_processes
    )
    metric = load_glue_metric(cfg.task.name)
    eval_loader = accelerator.prepare(eval_loader)

    def evaluate(model) -> dict:
        preds, labels = predict(accelerator, model, eval_loader, splits.is_regression, cfg.trainer.progress)
        return {k: float(v) for k, v in metric.compute(predictions=preds, references=labels).items()}

    return train_loader, evaluate


@torch.no_grad()
def predict(accelerator, model, loader, is_regression: bool, progress: bool):
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
