"""Teacher-forced mean per-token negative log-likelihood over a set of examples, batched.

The mean is over target tokens (labels not ``IGNORE_INDEX``) of the whole set, not a mean of batch means:
every token weighs the same, so the figure does not depend on the batch size or on how examples are
grouped (a batch mean would weigh the tokens of a short batch more). Examples are sorted by length so a
batch pads little; the logits are upcast to fp32 before the log-softmax, as a bf16 base would otherwise
round the loss. Under several processes each one scores its share and the sums are added up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from bca.tasks.instruct.batching import CausalCollator
from bca.tasks.instruct.prompts import IGNORE_INDEX


@torch.no_grad()
def nll_sum(model, examples: list[dict], batch_size: int, pad_token_id: int, device=None, progress=False, desc="loss"):
    """(sum of the target tokens' NLL, number of target tokens) over ``examples`` ({input_ids, labels})."""
    device = device or next(model.parameters()).device
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["input_ids"]))
    collate = CausalCollator(pad_token_id)
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    was_training = model.training
    model.eval()
    for start in tqdm(range(0, len(order), batch_size), desc=desc, leave=False, disable=not progress):
        batch = collate([examples[i] for i in order[start : start + batch_size]])
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits
        # position t predicts token t + 1: the same shift as the causal-LM training loss
        logits, targets = logits[:, :-1].float(), batch["labels"][:, 1:].to(device)
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="sum")
        total += loss.double().cpu()
        count += int((targets != IGNORE_INDEX).sum())
    model.train(was_training)
    return float(total), count


def mean_token_nll(accelerator, model, examples: list[dict], batch_size: int, pad_token_id: int, progress=False,
                   desc="loss") -> float:  # fmt: skip
    """Mean NLL per target token over all ``examples``, each process scoring a contiguous share."""
    model = accelerator.unwrap_model(model)
    show = progress and accelerator.is_main_process
    with accelerator.split_between_processes(examples) as mine:
        total, count = 0.0, 0  # a process left without examples still joins the sum
        if mine:
            total, count = nll_sum(model, mine, batch_size, pad_token_id, accelerator.device, show, desc)
    if accelerator.num_processes > 1:
        sums = accelerator.reduce(torch.tensor([total, count], dtype=torch.float64, device=accelerator.device), "sum")
        total, count = float(sums[0]), int(sums[1])
    if count == 0:
        raise ValueError(f"{desc}: no target token in {len(examples)} examples (every label is {IGNORE_INDEX})")
    return total / count
