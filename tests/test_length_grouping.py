"""Length-grouped GLUE batches: less padding, seeded, a new order every epoch, and exact resume."""

import datasets
import pytest
from crashes import Crash, crash_at

from bca.config.hydra_app import compose
from bca.models import load_tokenizer
from bca.run import records
from bca.run.runner import run
from bca.tasks.base import TaskSplits
from bca.tasks.batching import LengthBucketBatchSampler, padded_tokens
from bca.tasks.classification import classification_loaders


def splits(n=96):
    words = ["word"] * 60
    text = [" ".join(words[: 2 + (i * 37) % 58]) for i in range(n)]  # lengths 2..59, interleaved
    ds = datasets.Dataset.from_dict({"sentence1": text, "label": [i % 2 for i in range(n)]})
    return TaskSplits("t", ds, ds, ("sentence1",), 2, "accuracy")


def batches(group: bool, epoch: int, seed: int = 0):
    cfg = compose(["model=tiny-roberta", f"trainer.group_by_length={str(group).lower()}", "trainer.batch_size=8"])
    loader, _ = classification_loaders(splits(), load_tokenizer(cfg.model), cfg.trainer, seed)
    if group:
        loader.batch_sampler.set_epoch(epoch)
    return [b["input_ids"].shape for b in loader], [b["attention_mask"].sum().item() for b in loader]


def test_grouping_cuts_padding_and_keeps_every_row():
    grouped_shapes, grouped_real = batches(True, 0)
    random_shapes, random_real = batches(False, 0)
    assert sum(grouped_real) == sum(random_real)  # the same rows, the same real tokens
    padded = lambda shapes: sum(a * b for a, b in shapes)  # noqa: E731
    assert padded(grouped_shapes) < 0.75 * padded(random_shapes)


def test_grouped_order_is_seeded_and_changes_every_epoch():
    assert batches(True, 0) == batches(True, 0)
    assert batches(True, 0) != batches(True, 1)
    assert batches(True, 0, seed=1) != batches(True, 0, seed=0)


def test_padded_tokens_counts_the_longest_row_per_batch():
    assert padded_tokens([3, 5, 2, 7], [[0, 1], [2, 3]]) == 2 * 5 + 2 * 7


TINY = [
    "model=tiny-roberta", "trainer.group_by_length=true", "task.max_train_samples=24", "task.max_eval_samples=16",
    "trainer.batch_size=8", "trainer.epochs=2", "trainer.max_length=32", "trainer.progress=false",
    "trainer.log_every=1", "trainer.checkpoint_every=2", "logger=disabled",
]  # fmt: skip


@pytest.mark.parametrize("crash_step,resume_step", [(5, 4)])
def test_a_grouped_run_resumes_to_the_uninterrupted_metrics(crash_step, resume_step, tmp_path):
    reference = run(compose([*TINY, f"results_dir={tmp_path / 'ref'}"]))
    cfg = compose([*TINY, f"results_dir={tmp_path / 'crash'}"])
    with pytest.MonkeyPatch.context() as mp:
        crash_at(mp, crash_step)
        with pytest.raises(Crash):
            run(cfg)
    assert records.read_record(records.record_path(tmp_path / "crash", reference["run_id"]))["status"] == "failed"
    resumed = run(cfg)
    assert resumed["resumed_from_step"] == resume_step
    assert resumed["metrics"] == reference["metrics"]


def test_several_processes_get_the_short_batch_last_and_one_process_the_plain_order():
    """accelerate's BatchSamplerShard skips a short batch unless it is last; short_last moves it there and
    changes nothing else (one process keeps the plain order, so its runs are unchanged)."""
    lengths = list(range(1, 44))  # 43 rows, batches of 8: five full and one of 3
    plain = LengthBucketBatchSampler(lengths, 8, seed=3, window=2)
    moved = LengthBucketBatchSampler(lengths, 8, seed=3, window=2, short_last=True)
    for epoch in range(4):
        a, b = plain.batches(epoch), moved.batches(epoch)
        assert [len(x) for x in b] == [8, 8, 8, 8, 8, 3]
        assert b[:-1] == [x for x in a if len(x) == 8] and b[-1] == next(x for x in a if len(x) == 3)
    assert any(len(plain.batches(e)[-1]) == 8 for e in range(4))  # the plain order does put it elsewhere


def test_accelerate_sharding_keeps_every_batch_with_short_last():
    """Against accelerate's own BatchSamplerShard (split_batches, 2 processes): with the short batch in the
    middle a batch is lost; with short_last every row is taken, the last batch padded as accelerate does."""
    from accelerate.data_loader import BatchSamplerShard

    lengths = list(range(1, 44))
    plain = LengthBucketBatchSampler(lengths, 8, seed=3, window=2)
    epoch = next(e for e in range(10) if len(plain.batches(e)[-1]) == 8)  # its short batch is not last
    for short_last in (False, True):
        sampler = LengthBucketBatchSampler(lengths, 8, seed=3, window=2, short_last=short_last)
        shards = []
        for rank in (0, 1):  # each process iterates the same epoch (accelerate calls set_epoch on every rank)
            sampler.set_epoch(epoch)
            shards.append(list(BatchSamplerShard(sampler, 2, rank, split_batches=True)))
        taken = {i for shard in shards for b in shard for i in b}
        if short_last:
            assert len(shards[0]) == len(shards[1]) == 6 and taken == set(range(43))
        else:
            assert len(shards[0]) == 5 and len(taken) == 40  # the 3-row batch is gone
