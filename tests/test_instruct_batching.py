"""Length buckets: every example once per epoch, seeded, reshuffled each epoch, and far less padding."""

import numpy as np

from bca.tasks.instruct.batching import CausalCollator, LengthBucketBatchSampler, padded_tokens
from bca.tasks.instruct.prompts import IGNORE_INDEX


def lengths(n=2000, seed=0):
    # GSM8K-like spread: 100-400 tokens
    return np.random.default_rng(seed).integers(100, 400, size=n).tolist()


def test_each_index_once_per_epoch_and_batch_sizes():
    lens = lengths(1003)
    sampler = LengthBucketBatchSampler(lens, batch_size=8, seed=1)
    for _ in range(2):
        batches = list(sampler)
        assert len(batches) == len(sampler) == 126
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(1003))
        assert sorted(len(b) for b in batches)[1:] == [8] * 125


def test_seeded_and_different_every_epoch():
    lens = lengths()
    a, b = LengthBucketBatchSampler(lens, 8, seed=3), LengthBucketBatchSampler(lens, 8, seed=3)
    first_a, first_b = list(a), list(b)
    assert first_a == first_b
    assert list(a) != first_a  # epoch 2 differs from epoch 1
    assert list(LengthBucketBatchSampler(lens, 8, seed=4)) != first_a
    a.set_epoch(0)  # what a resumed run does: the order of an epoch is a function of (seed, epoch)
    assert list(a) == first_a


def test_bucketing_cuts_padding():
    lens = lengths()
    sampler = LengthBucketBatchSampler(lens, 16, seed=0)
    rng = np.random.default_rng(0).permutation(len(lens))
    random_batches = [rng[i : i + 16].tolist() for i in range(0, len(lens), 16)]
    real = sum(lens)
    bucketed, shuffled = padded_tokens(lens, list(sampler)), padded_tokens(lens, random_batches)
    assert bucketed < 1.02 * real  # under 2% padding
    assert shuffled > 1.3 * real  # random batches pad by a third or more


def test_collator_pads_right_and_masks_padding():
    rows = [{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]}, {"input_ids": [9], "labels": [9]}]
    batch = CausalCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [9, IGNORE_INDEX, IGNORE_INDEX]]
