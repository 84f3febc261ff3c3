"""The causal-LM collator; training batches are length-bucketed by ``bca.tasks.batching`` (re-exported here)."""

from __future__ import annotations

import torch

from bca.tasks.batching import LengthBucketBatchSampler, padded_tokens
from bca.tasks.instruct.prompts import IGNORE_INDEX

__all__ = ["CausalCollator", "LengthBucketBatchSampler", "padded_tokens"]


class CausalCollator:
    """Right-pads ``input_ids`` (pad id), ``labels`` (IGNORE_INDEX) and builds the attention mask."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
