"""Length-bucketed training batches, shared by every task family.

Random batches pad every row to the longest of the batch: on GSM8K (~100-400 tokens) about a third of the
compute goes into padding, on MRPC/RTE pairs more. Bucketing (as HF's ``group_by_length``) shuffles, cuts the
order into windows of ``window`` batches, sorts each window by length and shuffles the resulting batches:
batches hold similar lengths while the order stays random. Packing would remove padding entirely but needs
cross-example attention masks; bucketing needs nothing from the model.

The order is a function of (seed, epoch) only, so a resumed run replays the same batches, and accelerate
shards the same batches over several processes (``split_batches``) as one process takes them.

Several processes: accelerate's batch sharding (``BatchSamplerShard``) skips any batch shorter than the batch
size unless it is the epoch's last (it then pads that one), and an epoch has one short batch wherever the
rows do not divide evenly. So with ``short_last`` the short batch is moved to the end of the epoch's order:
N processes then take every batch (and as many steps as one process). One process keeps the plain order
(its results, and every committed record, are unchanged).
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of indices with similar lengths, in a seeded random order that changes every epoch."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, window: int = 50, short_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.seed, self.window = batch_size, seed, window
        self.short_last = short_last  # several processes: see the module docstring
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            chunk = order[start : start + span]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        ordered = [batches[i] for i in rng.permutation(len(batches))]
        if self.short_last:  # stable: the full batches keep their order, the one short batch goes last
            ordered.sort(key=lambda b: len(b) < self.batch_size)
        return ordered

    def set_epoch(self, epoch: int) -> None:
        """The order is a function of (seed, epoch): a resumed run replays the same batches (accelerate calls
        this through the prepared loader's ``set_epoch``)."""
        self.epoch = epoch

    def __iter__(self):
        batches = self.batches(self.epoch)
        self.epoch += 1  # without set_epoch calls, the next pass still gets a fresh order
        yield from batches


def padded_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    """Tokens a batching computes on, padding included (to compare bucketing with random batches)."""
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def micro_batch_size(trainer_cfg) -> int:
    """What the train loader yields: the optimiser step's batch split into ``grad_accum_steps`` micro-batches."""
    return trainer_cfg.batch_size // trainer_cfg.grad_accum_steps
