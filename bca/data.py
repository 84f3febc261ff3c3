"""Task splits -> tokenised DataLoaders for sequence classification/regression.

Padding is dynamic (per batch) and the eval loader sorts by length: on a 2-core CPU the time goes into
padding tokens otherwise. The train order is a seeded shuffle, so the same seed gives the same batches;
with ``trainer.group_by_length`` the shuffled batches hold rows of similar length (``bca.tasks.batching``),
which cuts the padding of pair tasks such as MRPC and RTE.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from bca.tasks.batching import LengthBucketBatchSampler
from bca.train import micro_batch_size


def tokenize(dataset, tokenizer, text_fields: tuple[str, ...], max_length: int, is_regression: bool):
    def encode(batch):
        texts = [batch[f] for f in text_fields]
        enc = tokenizer(*texts, truncation=True, max_length=max_length)
        enc["labels"] = [float(x) for x in batch["label"]] if is_regression else batch["label"]
        return enc

    return dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenize")


def classification_loaders(splits, tokenizer, trainer_cfg, seed: int) -> tuple[DataLoader, DataLoader]:
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
        sampler = LengthBucketBatchSampler(lengths, micro_batch_size(trainer_cfg), seed)
        # its own generator: otherwise every new iterator (each epoch, and a resume's skip) draws its base seed
        # from the global RNG, and a resumed run's dropout masks would be one draw off the uninterrupted run's
        train_loader = DataLoader(train, batch_sampler=sampler, collate_fn=collate, generator=generator)
    else:
        train_loader = DataLoader(
            train, batch_size=micro_batch_size(trainer_cfg), shuffle=True, collate_fn=collate, generator=generator
        )
    eval_loader = DataLoader(evals, batch_size=trainer_cfg.eval_batch_size, shuffle=False, collate_fn=collate)
    return train_loader, eval_loader
