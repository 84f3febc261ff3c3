"""Devices and precisions the kernel and adapter tests run on: CPU always, CUDA where present.

A CUDA parameter is skipped with the reason on a machine without one, so the same test file is the
device check of ``make gpu-check`` (scripts/gpu_check.py) and part of the fast suite on CPU.
"""

import pytest
import torch

NO_CUDA = "no CUDA device here (torch.cuda.is_available() is False); runs under make gpu-check on a GPU"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA))]

# name -> (dtype of the base Linear and of x, autocast dtype or None, relative tolerance of the output)
PRECISIONS = {
    "fp32": (torch.float32, None, 1e-5),
    "bf16-base": (torch.bfloat16, None, 2e-2),
    "fp16-base": (torch.float16, None, 4e-3),
    "autocast-bf16": (torch.float32, torch.bfloat16, 2e-2),
    "autocast-fp16": (torch.float32, torch.float16, 4e-3),
}


def autocast(device: str, dtype):
    """``torch.autocast`` on ``device`` with ``dtype``, or a no-op for None."""
    return torch.autocast(device, dtype=dtype) if dtype is not None else torch.autocast(device, enabled=False)
