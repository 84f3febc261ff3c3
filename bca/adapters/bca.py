"""BCA (block circulant adapter, arXiv 2505.00582) as a peft method: config, layer and tuner.

Block (i, j) of Delta W is circ(c_ij) with c_ij its FIRST COLUMN (``kernels/circulant.py``); a layer of shape
d_out x d_in trains d_out * d_in / p numbers. Its forward runs the FFT path (rfft, a complex product per
frequency, irfft; Delta W never built) or, with many tokens against the width, one GEMM with W + Delta W
(``kernels/exec_path.py`` chooses per call). Delta W is added to the frozen weight unscaled: the paper fixes its large-p
instability through the learning rate instead (``divide_lr_by_block_size``, ``BCAConfig.lr_scale``).

    model = get_peft_model(model, BCAConfig(target_modules=["query", "value"], block_size=384))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from bca.adapters.base import (
    CirculantConfig,
    CirculantLayer,
    CirculantTuner,
    check_choice,
    check_divides,
    check_positive_int,
)
from bca.adapters.kernels.circulant import block_circulant_dense, block_circulant_matmul
from bca.adapters.kernels.exec_path import foldable, linear_block_circulant  # FFT or merged path, chosen per call

BCA_INITS = ("zero", "gaussian", "xavier_uniform")
PEFT_TYPE = "BCA"
"""peft_type in adapter_config.json; peft's PeftType enum has no BCA, so a plain string (bca.adapters.registration)."""


@dataclass
class BCAConfig(CirculantConfig):
    """Which Linears get a BCA adapter, and how it is shaped, initialised and trained."""

    block_size: int | None = field(
        default=None,
        metadata={"help": "p: side of the circulant blocks; must divide both dims of every target layer (required)."},
    )
    init: str = field(
        default="zero",
        metadata={"help": f"Kernel init, one of {BCA_INITS}; 'zero' starts at Delta W = 0 (the base model)."},
    )
    divide_lr_by_block_size: bool = field(
        default=True,
        metadata={
            "help": "The paper's stable-training heuristic: train the kernels at lr / p. A kernel entry appears "
            "p times in its block, so its gradient sums p entries of the dense gradient and grows with p."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.peft_type = PEFT_TYPE
        check_positive_int("block_size", self.block_size)
        check_choice("init", self.init, BCA_INITS)
        if not isinstance(self.divide_lr_by_block_size, bool):
            raise ValueError(f"divide_lr_by_block_size must be a bool, got {self.divide_lr_by_block_size!r}")

    @property
    def lr_scale(self) -> float:
        """Factor on the adapter learning rate: 1/p with the heuristic on, else 1 (the one the runner uses).

        With a ``block_size_pattern`` this is 1/``block_size``; layers with another p then train at lr / block_size.
        """
        return 1.0 / self.block_size if self.divide_lr_by_block_size else 1.0


class BCALayer(CirculantLayer):
    adapter_layer_names = ("bca_kernel",)

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__(base_layer)
        self.bca_kernel = nn.ParameterDict({})

    def update_layer(self, adapter_name: str, block_size: int, config: BCAConfig) -> None:
        """Add adapter ``adapter_name``: a (d_out/p, d_in/p, p) fp32 kernel, initialised as ``config.init`` says."""
        check_divides(block_size, self.in_features, self.out_features)
        p = block_size
        self.block_size[adapter_name] = p
        self.bca_kernel[adapter_name] = self._new_param(self.out_features // p, self.in_features // p, p)
        self.reset_parameters(adapter_name, config.init)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    @torch.no_grad()
    def reset_parameters(self, adapter_name: str, init: str) -> None:
        check_choice("init", init, BCA_INITS)
        kernel = self.bca_kernel[adapter_name]
        if init == "zero":
            kernel.zero_()
        elif init == "gaussian":
            nn.init.normal_(kernel)
        else:  # the dense layer's xavier bound: Delta W then has the entry scale of a freshly initialised Linear
            bound = math.sqrt(6.0 / (self.in_features + self.out_features))
            nn.init.uniform_(kernel, -bound, bound)

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        return block_circulant_dense(self.bca_kernel[adapter])

    def add_adapter_output(self, out: torch.Tensor, x: torch.Tensor, adapter: str) -> torch.Tensor:
        # In place: the base output is not saved by autograd, and on CPU a fresh T x d buffer costs page faults.
        return out.add_(block_circulant_matmul(x, self.bca_kernel[adapter]).to(out.dtype))

    def can_fuse(self, x: torch.Tensor) -> bool:
        """A plain Linear (any float dtype, or autocast): ``exec_path`` then runs its GEMM on either path."""
        return foldable(self.base_layer, x)

    def fused_forward(self, x: torch.Tensor, adapter: str) -> torch.Tensor:
        base = self.base_layer  # same sum, fewer activation-sized buffers (see linear_block_circulant)
        return linear_block_circulant(x, base.weight, base.bias, self.bca_kernel[adapter])


class BCALinear(nn.Module, BCALayer):
    """``y = W x + b + sum_a BC(bca_kernel[a]) x`` over the active adapters a; kernels (d_out/p, d_in/p, p), fp32."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, block_size: int, config: BCAConfig) -> None:
        super().__init__()
        BCALayer.__init__(self, base_layer)
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, block_size, config)

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.circulant_forward(x, *args, **kwargs)

    def extra_repr(self) -> str:
        return self.circulant_extra_repr()

    def __repr__(self) -> str:
        return "bca." + super().__repr__()


class BCAModel(CirculantTuner):
    """peft tuner that puts ``BCALinear`` layers on a model (https://arxiv.org/abs/2505.00582)."""

    prefix = "bca_"
    tuner_layer_cls = BCALayer
    linear_cls = BCALinear
