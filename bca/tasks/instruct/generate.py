"""Batched greedy generation for evaluation: left padding, KV cache, prompts sorted by length.

Decoder-only models continue the last position of each row, so prompts are padded on the left (with the
attention mask telling the model which positions are padding; transformers derives the position ids from
it). Sorting prompts by length keeps padding small; HF ``generate`` keeps the KV cache and stops a batch as
soon as every row has emitted the end token. Under several processes each one generates its share of the
prompts and the texts are gathered back in order.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig


def left_pad(prompts: list[list[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p) :] = 1
    return ids, mask


@torch.no_grad()
def greedy_generate(
    model,
    prompts: list[list[int]],
    *,
    end_token_id: int,
    pad_token_id: int,
    max_new_tokens: int,
    batch_size: int,
    progress: bool = False,
    device=None,
) -> list[list[int]]:
    """The new token ids of every prompt (end token and anything after it removed), in the prompts' order."""
    config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        eos_token_id=end_token_id,
        pad_token_id=pad_token_id,
        use_cache=True,
    )
    device = device or next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[int] | None] = [None] * len(prompts)
    was_training = model.training
    model.eval()
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="generate", leave=False, disable=not progress, dynamic_ncols=True):
        idx = order[start : start + batch_size]
        ids, mask = left_pad([prompts[i] for i in idx], pad_token_id)
        generated = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config)
        for row, i in zip(generated[:, ids.shape[1] :].tolist(), idx, strict=True):
            out[i] = row[: row.index(end_token_id)] if end_token_id in row else row
    model.train(was_training)
    return out


def generate_texts(accelerator, model, prompts: list[list[int]], tokenizer, progress: bool = False, **kwargs):
    """Decoded completions of all prompts; each process generates a contiguous share, gathered in order."""
    model = accelerator.unwrap_model(model)
    show = progress and accelerator.is_main_process
    with accelerator.split_between_processes(list(range(len(prompts)))) as mine:
        ids = greedy_generate(model, [prompts[i] for i in mine], device=accelerator.device, progress=show, **kwargs)
        texts = [tokenizer.decode(t, skip_special_tokens=True) for t in ids]
    if accelerator.num_processes > 1:
        from accelerate.utils import gather_object

        texts = gather_object(texts)
    return texts
