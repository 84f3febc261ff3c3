"""The base model's outputs from an adapted model, without a second copy of its weights.

Forgetting compares the tuned model with the base model. Keeping an untouched copy would double the memory
of a 7B run, and the model at step 0 is not the base model for every method (peft's C3A starts from a
xavier-initialised, non-zero Delta W). Switching the adapters off gives the base exactly: every method's
layers (BCA and CDD are peft tuners too, ``bca.adapters``) through peft's own ``enable_adapters(False)``.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def adapters_disabled(model: torch.nn.Module):
    """Within the block ``model`` computes the base model; adapters and ``requires_grad`` are restored after."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    peft_layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer) and not m.disable_adapters]
    if any(m.merged for m in peft_layers):
        raise ValueError("adapters_disabled needs unmerged peft layers (a merged Delta W is in the base weight)")
    grads = {name: p.requires_grad for name, p in model.named_parameters()}
    try:
        for layer in peft_layers:
            layer.enable_adapters(False)
        yield model
    finally:
        for layer in peft_layers:
            layer.enable_adapters(True)
        for name, p in model.named_parameters():  # peft's enable_adapters also sets requires_grad
            p.requires_grad_(grads[name])
