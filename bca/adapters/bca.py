"""BCA (block circulant adapter, arXiv 2505.00582): Delta W is block-circulant with p x p blocks.

Block (i, j) of Delta W is circ(c_ij) with c_ij its FIRST COLUMN (see ``bca.circulant``); a layer of shape
d_out x d_in trains d_out * d_in / p numbers and its forward never builds Delta W (rfft, a complex product
per frequency, irfft). Delta W is added to the frozen weight unscaled: the paper fixes its large-p
instability through the learning rate instead (``divide_lr_by_block_size``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from bca.adapters.base import AdapterLinear, check_choice, check_divides, check_positive_int, normalise_targets
from bca.circulant import block_circulant_dense, block_circulant_matmul
from bca.exec_path import foldable, linear_block_circulant  # the FFT or merged-weight path, chosen per call

BCA_INITS = ("zero", "gaussian", "xavier_uniform")


@dataclass
class BCAConfig:
    """Which Linears get a BCA adapter, and how it is shaped, initialised and trained."""

    target_modules: list[str] = field(
        metadata={"help": "Module names to adapt: a Linear matches if its name equals or ends with '.<name>'."}
    )
    block_size: int = field(
        metadata={"help": "p: side of the circulant blocks; must divide both dims of every target layer."}
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

    adapter_type = "bca"
    prefix = "bca_"

    def __post_init__(self) -> None:
        self.target_modules = normalise_targets(self.target_modules)
        check_positive_int("block_size", self.block_size)
        check_choice("init", self.init, BCA_INITS)
        if not isinstance(self.divide_lr_by_block_size, bool):
            raise ValueError(f"divide_lr_by_block_size must be a bool, got {self.divide_lr_by_block_size!r}")

    @property
    def lr_scale(self) -> float:
        """Factor on the adapter learning rate: 1/p with the heuristic on, else 1."""
        return 1.0 / self.block_size if self.divide_lr_by_block_size else 1.0

    def check_layer(self, name: str, layer: nn.Linear) -> None:
        check_divides(self.block_size, layer.in_features, layer.out_features, where=f"layer {name!r}")

    def wrap(self, layer: nn.Linear) -> BCALinear:
        return BCALinear(layer, self.block_size, self.init)


class BCALinear(AdapterLinear):
    """``y = W x + b + BC(bca_kernel) x``; ``bca_kernel`` has shape (d_out/p, d_in/p, p), fp32."""

    prefix = "bca_"

    def __init__(self, base_layer: nn.Linear, block_size: int, init: str = "zero") -> None:
        super().__init__(base_layer)
        check_divides(block_size, self.in_features, self.out_features)
        self.block_size = block_size
        p = block_size
        self.bca_kernel = self._new_param(self.out_features // p, self.in_features // p, p)
        self.reset_parameters(init)

    @torch.no_grad()
    def reset_parameters(self, init: str) -> None:
        check_choice("init", init, BCA_INITS)
        if init == "zero":
            self.bca_kernel.zero_()
        elif init == "gaussian":
            nn.init.normal_(self.bca_kernel)
        else:  # the dense layer's xavier bound: Delta W then has the entry scale of a freshly initialised Linear
            bound = math.sqrt(6.0 / (self.in_features + self.out_features))
            nn.init.uniform_(self.bca_kernel, -bound, bound)

    def adapter_forward(self, x: torch.Tensor) -> torch.Tensor:
        return block_circulant_matmul(x, self.bca_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged or not foldable(self.base_layer, x):
            return super().forward(x)
        base = self.base_layer  # same sum, fewer activation-sized buffers (see linear_block_circulant)
        return linear_block_circulant(x, base.weight, base.bias, self.bca_kernel)

    def delta_weight(self) -> torch.Tensor:
        return block_circulant_dense(self.bca_kernel)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, block_size={self.block_size}"
