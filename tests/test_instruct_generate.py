"""Batched greedy generation (left padding + KV cache) equals a plain greedy loop that recomputes everything."""

import pytest
import torch

from bca.config.hydra_app import compose
from bca.models import load_model
from bca.tasks.instruct.generate import greedy_generate, left_pad

PROMPTS = [[101, 2054, 2003, 1016, 1009, 1017, 1029], [101, 7592], [101, 2129, 2116, 6207, 2515, 2002, 2031, 2197, 102]]
NEW = 6


@pytest.fixture(scope="module")
def model():
    """tiny-llama with large random weights: at the usual init scale (std 0.02) it repeats its last token
    whatever the context, which would hide a padding or cache bug."""
    torch.manual_seed(0)
    model = load_model(compose(["model=tiny-llama"]).model, causal=True).model.eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model


@torch.no_grad()
def reference_greedy(model, prompt: list[int], n: int) -> list[int]:
    """One prompt, no padding, no cache: the whole sequence is re-run for every new token."""
    ids = list(prompt)
    for _ in range(n):
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        ids.append(int(logits.argmax()))
    return ids[len(prompt) :]


def test_left_pad():
    ids, mask = left_pad([[1, 2, 3], [4]], pad_token_id=0)
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_cached_generation_matches_the_plain_loop(model):
    expected = [reference_greedy(model, p, NEW) for p in PROMPTS]
    for batch_size in (1, 3):
        got = greedy_generate(
            model, PROMPTS, end_token_id=-1, pad_token_id=0, max_new_tokens=NEW, batch_size=batch_size
        )
        assert got == expected  # in the prompts' order, whatever the length sorting did


def test_generation_stops_at_the_end_token_and_drops_it(model):
    first = reference_greedy(model, PROMPTS[0], NEW)
    end = first[2]  # make the third generated token the end token
    got = greedy_generate(model, PROMPTS[:1], end_token_id=end, pad_token_id=0, max_new_tokens=NEW, batch_size=1)
    assert got == [first[: first.index(end)]]
