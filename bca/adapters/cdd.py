"""CDD (circulant and diagonal vectors, arXiv 2505.00580): Delta W = D_m C_m ... D_1 C_1 D_0.

Square layer, one factor (the paper's usual setting): Delta W = diag(a) circ(c) diag(b), 3d parameters.
The product is applied right to left with 1-D FFTs and elementwise scalings; Delta W is never built.

Non-square layout (d_out != d_in), our choice, documented because the paper only says it "partitions the
circulant matrix into blocks": each circulant factor C_k is BLOCK-circulant with p x p blocks (block (i, j)
= circ(c_ij), first-column convention as in BCA), p = gcd(d_in, d_out) unless ``block_size`` is given,
and the diagonals stay full-length (D_0 has d_in entries, D_m has d_out). So one factor costs
d_in + d_out + d_in * d_out / p parameters; for a square layer with p = d that is exactly diag.circ.diag.
Why this layout: the diagonals still scale every input and output feature (what makes CDD more than a
circulant), the block-circulant factor reuses the BCA kernel (FFT forward and backward), and p = gcd
keeps the number of blocks, hence of parameters and FFT work, as small as the shape allows.

With m > 1 factors, C_1 ... C_{m-1} are square on d_in and the last factor C_m maps d_in -> d_out, so
every factor but the last can start as the identity. Zero init: diagonals 1, square kernels the identity
(c = e_0), last kernel 0, hence Delta W = 0 and the first step trains C_m exactly like a BCA kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from bca.adapters.base import AdapterLinear, check_choice, check_divides, check_positive_int, normalise_targets
from bca.circulant_cdd import add_output_diagonal, cdd_dense, cdd_matmul, cdd_matmul_before_last_diagonal, linear_cdd

CDD_INITS = ("zero", "gaussian")


@dataclass
class CDDConfig:
    """Which Linears get a CDD adapter, and how it is shaped and initialised."""

    target_modules: list[str] = field(
        metadata={"help": "Module names to adapt: a Linear matches if its name equals or ends with '.<name>'."}
    )
    block_size: int | None = field(
        default=None,
        metadata={"help": "p of the block-circulant factors; None: per layer, gcd(d_in, d_out) (the largest)."},
    )
    num_factors: int = field(default=1, metadata={"help": "m: circulant factors (with m + 1 diagonals)."})
    init: str = field(
        default="zero", metadata={"help": f"One of {CDD_INITS}; 'zero' starts at Delta W = 0 (the base model)."}
    )

    adapter_type = "cdd"
    prefix = "cdd_"

    def __post_init__(self) -> None:
        self.target_modules = normalise_targets(self.target_modules)
        if self.block_size is not None:
            check_positive_int("block_size", self.block_size)
        check_positive_int("num_factors", self.num_factors)
        check_choice("init", self.init, CDD_INITS)

    @property
    def lr_scale(self) -> float:
        return 1.0

    def layer_block_size(self, layer: nn.Linear) -> int:
        return self.block_size or math.gcd(layer.in_features, layer.out_features)

    def check_layer(self, name: str, layer: nn.Linear) -> None:
        check_divides(self.layer_block_size(layer), layer.in_features, layer.out_features, where=f"layer {name!r}")

    def wrap(self, layer: nn.Linear) -> CDDLinear:
        return CDDLinear(layer, self.layer_block_size(layer), self.num_factors, self.init)


class CDDLinear(AdapterLinear):
    """``y = W x + b + D_m C_m ... C_1 D_0 x`` with ``cdd_diagonals[k]`` = D_k and ``cdd_kernels[k-1]`` = C_k."""

    prefix = "cdd_"

    def __init__(self, base_layer: nn.Linear, block_size: int, num_factors: int = 1, init: str = "zero") -> None:
        super().__init__(base_layer)
        check_divides(block_size, self.in_features, self.out_features)
        check_positive_int("num_factors", num_factors)
        self.block_size, self.num_factors = block_size, num_factors
        d_in, d_out, p = self.in_features, self.out_features, block_size
        dims = [d_in] * num_factors + [d_out]  # feature count after each diagonal
        self.cdd_diagonals = nn.ParameterList([self._new_param(d) for d in dims])
        self.cdd_kernels = nn.ParameterList(
            [self._new_param(d_o // p, d_i // p, p) for d_i, d_o in zip(dims[:-1], dims[1:], strict=True)]
        )
        self.reset_parameters(init)

    @torch.no_grad()
    def reset_parameters(self, init: str) -> None:
        check_choice("init", init, CDD_INITS)
        for diag in self.cdd_diagonals:
            diag.fill_(1.0)
        *square, last = self.cdd_kernels
        if init == "zero":
            for kernel in square:  # block-circulant identity: diagonal blocks circ(e_0)
                kernel.zero_()
                kernel.diagonal(dim1=0, dim2=1)[0].fill_(1.0)
            last.zero_()
        else:  # entries ~ N(0, 1/d_in of the factor): each factor roughly preserves the input's scale
            for kernel in self.cdd_kernels:
                nn.init.normal_(kernel, std=1.0 / math.sqrt(kernel.shape[1] * kernel.shape[2]))

    def adapter_forward(self, x: torch.Tensor) -> torch.Tensor:
        return cdd_matmul(x, list(self.cdd_diagonals), list(self.cdd_kernels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.merged and self.num_factors == 1 and self.can_fuse(x):
            (d_in, d_out), base = self.cdd_diagonals, self.base_layer
            return linear_cdd(x, base.weight, base.bias, d_in, self.cdd_kernels[0], d_out)
        out = self.base_layer(x)
        if self.merged:
            return out
        *diagonals, last = self.cdd_diagonals
        z = cdd_matmul_before_last_diagonal(x, diagonals, list(self.cdd_kernels))
        return add_output_diagonal(out, z, last)  # out += D_m z in one pass where the dtypes allow

    def delta_weight(self) -> torch.Tensor:
        return cdd_dense(list(self.cdd_diagonals), list(self.cdd_kernels))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, block_size={self.block_size}, num_factors={self.num_factors}"
