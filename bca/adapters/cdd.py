"""CDD (circulant and diagonal vectors, arXiv 2505.00580) as a peft method: Delta W = D_m C_m ... D_1 C_1 D_0.

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

    model = get_peft_model(model, CDDConfig(target_modules=["query", "value"]))
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
from bca.adapters.kernels.circulant_cdd import (
    add_output_diagonal,
    cdd_dense,
    cdd_matmul_before_last_diagonal,
    linear_cdd,
)

CDD_INITS = ("zero", "gaussian")
PEFT_TYPE = "CDD"


def default_block_size(d_in: int, d_out: int) -> int:
    """CDD's block size when none is given: the largest that tiles the layer, gcd(d_in, d_out) (p = d if square)."""
    return math.gcd(d_in, d_out)


@dataclass
class CDDConfig(CirculantConfig):
    """Which Linears get a CDD adapter, and how it is shaped and initialised."""

    block_size: int | None = field(
        default=None,
        metadata={"help": "p of the block-circulant factors; None: per layer, gcd(d_in, d_out) (the largest)."},
    )
    num_factors: int = field(default=1, metadata={"help": "m: circulant factors (with m + 1 diagonals)."})
    init: str = field(
        default="zero", metadata={"help": f"One of {CDD_INITS}; 'zero' starts at Delta W = 0 (the base model)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.peft_type = PEFT_TYPE
        if self.block_size is not None:
            check_positive_int("block_size", self.block_size)
        check_positive_int("num_factors", self.num_factors)
        check_choice("init", self.init, CDD_INITS)

    @property
    def lr_scale(self) -> float:
        return 1.0

    def layer_block_size(self, name: str, d_in: int, d_out: int) -> int:
        return super().layer_block_size(name, d_in, d_out) or default_block_size(d_in, d_out)


class CDDLayer(CirculantLayer):
    adapter_layer_names = ("cdd_diagonals", "cdd_kernels")
    other_param_names = ("block_size", "num_factors")

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__(base_layer)
        self.num_factors: dict[str, int] = {}
        # per adapter: D_0 ... D_m and C_1 ... C_m (a ParameterList each)
        self.cdd_diagonals = nn.ModuleDict({})
        self.cdd_kernels = nn.ModuleDict({})

    def update_layer(self, adapter_name: str, block_size: int, config: CDDConfig) -> None:
        check_divides(block_size, self.in_features, self.out_features)
        m, p = config.num_factors, block_size
        self.block_size[adapter_name], self.num_factors[adapter_name] = p, m
        d_in, d_out = self.in_features, self.out_features
        dims = [d_in] * m + [d_out]  # feature count after each diagonal
        self.cdd_diagonals[adapter_name] = nn.ParameterList([self._new_param(d) for d in dims])
        self.cdd_kernels[adapter_name] = nn.ParameterList(
            [self._new_param(d_o // p, d_i // p, p) for d_i, d_o in zip(dims[:-1], dims[1:], strict=True)]
        )
        self.reset_parameters(adapter_name, config.init)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    @torch.no_grad()
    def reset_parameters(self, adapter_name: str, init: str) -> None:
        check_choice("init", init, CDD_INITS)
        for diag in self.cdd_diagonals[adapter_name]:
            diag.fill_(1.0)
        *square, last = self.cdd_kernels[adapter_name]
        if init == "zero":
            for kernel in square:  # block-circulant identity: diagonal blocks circ(e_0)
                kernel.zero_()
                kernel.diagonal(dim1=0, dim2=1)[0].fill_(1.0)
            last.zero_()
        else:  # entries ~ N(0, 1/d_in of the factor): each factor roughly preserves the input's scale
            for kernel in self.cdd_kernels[adapter_name]:
                nn.init.normal_(kernel, std=1.0 / math.sqrt(kernel.shape[1] * kernel.shape[2]))

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        return cdd_dense(list(self.cdd_diagonals[adapter]), list(self.cdd_kernels[adapter]))

    def add_adapter_output(self, out: torch.Tensor, x: torch.Tensor, adapter: str) -> torch.Tensor:
        *diagonals, last = self.cdd_diagonals[adapter]
        z = cdd_matmul_before_last_diagonal(x, diagonals, list(self.cdd_kernels[adapter]))
        return add_output_diagonal(out, z, last)  # out += D_m z in one pass where the dtypes allow

    def fused_forward(self, x: torch.Tensor, adapter: str) -> torch.Tensor | None:
        if self.num_factors[adapter] != 1:
            return None  # the fused kernel is for diag . BC . diag; more factors chain block_circulant_matmul
        (d_in, d_out), base = self.cdd_diagonals[adapter], self.base_layer
        return linear_cdd(x, base.weight, base.bias, d_in, self.cdd_kernels[adapter][0], d_out)


class CDDLinear(nn.Module, CDDLayer):
    """``y = W x + b + sum_a D_m C_m ... C_1 D_0 x`` over the active adapters a (``cdd_diagonals[a][k]`` = D_k,
    ``cdd_kernels[a][k-1]`` = C_k)."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, block_size: int, config: CDDConfig) -> None:
        super().__init__()
        CDDLayer.__init__(self, base_layer)
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, block_size, config)

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.circulant_forward(x, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.circulant_extra_repr()}, num_factors={self.num_factors}"

    def __repr__(self) -> str:
        return "cdd." + super().__repr__()


class CDDModel(CirculantTuner):
    """peft tuner that puts ``CDDLinear`` layers on a model (https://arxiv.org/abs/2505.00580)."""

    prefix = "cdd_"
    tuner_layer_cls = CDDLayer
    linear_cls = CDDLinear
