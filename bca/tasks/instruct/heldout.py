"""Held-out response loss and forgetting: the continuous figures that exact-match accuracy cannot give.

At 135M parameters and CPU budgets GSM8K accuracy sits at a few percent, where a binomial interval spans
every method; the mean per-token NLL of the reference solutions moves with every step. It uses the
training masking exactly (``encode_train``: loss on the response and its end token only), on the first
``task.heldout_loss_samples`` problems of the scored split.

Forgetting follows peft's ``method_comparison``: the language-model loss on held-out general text (every
token a target; there Wikipedia, here by default a seeded Alpaca sample) of the tuned model minus that of
the base model (adapters switched off, ``bca.tasks.instruct.base_model``). Positive = the tuning made general
text less likely.
"""

from __future__ import annotations

from bca.tasks.instruct.base_model import adapters_disabled
from bca.tasks.instruct.lm_loss import mean_token_nll


def general_examples(rows, tokenizer, max_length: int) -> list[dict]:
    """Plain text (instruction, input and response joined by blank lines), tokenised with the tokenizer's own
    special tokens and truncated to ``max_length``; every token is a target."""
    out = []
    for row in rows:
        text = "\n\n".join(t for t in (row["instruction"], row["input"], row["response"]) if t)
        ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        out.append({"input_ids": ids, "labels": list(ids)})
    return out


class HeldoutLosses:
    """``losses(model) -> {heldout_loss?, general_loss?, forgetting?}``; ``every``: steps between curve points.

    ``forgetting = general_loss - base_general_loss``; the base figure is measured once, on first use.
    """

    def __init__(self, accelerator, heldout: list[dict] | None, general: list[dict] | None, pad_token_id: int,
                 batch_size: int, every: int = 0, progress: bool = False):  # fmt: skip
        self.accelerator, self.heldout, self.general = accelerator, heldout, general
        self.kwargs = {"batch_size": batch_size, "pad_token_id": pad_token_id, "progress": progress}
        self.every = every
        self.base_general_loss: float | None = None

    def _nll(self, model, examples, desc: str) -> float:
        return mean_token_nll(self.accelerator, model, examples, desc=desc, **self.kwargs)

    def __call__(self, model) -> dict:
        out = {}
        if self.heldout:
            out["heldout_loss"] = self._nll(model, self.heldout, "held-out loss")
        if self.general:
            if self.base_general_loss is None:
                with adapters_disabled(self.accelerator.unwrap_model(model)):
                    self.base_general_loss = self._nll(model, self.general, "base model, general text")
            out["general_loss"] = self._nll(model, self.general, "general text")
            out["forgetting"] = out["general_loss"] - self.base_general_loss
        return out
