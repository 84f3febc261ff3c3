"""Independent references for the circulant tests: matrices written entry by entry from their definitions."""

import torch
from torch import nn


def dense_by_hand(kernel: torch.Tensor, first: str = "column") -> torch.Tensor:
    """Block-circulant matrix from a (d_out/p, d_in/p, p) kernel, as plain loops.

    first="column": block (i, j)[r, s] = c[(r - s) mod p] (BCA); first="row": w[(s - r) mod p] (peft's C3A).
    """
    m, q, p = kernel.shape
    out = torch.zeros(m * p, q * p, dtype=kernel.dtype)
    for i in range(m):
        for j in range(q):
            for r in range(p):
                for s in range(p):
                    k = (r - s) % p if first == "column" else (s - r) % p
                    out[i * p + r, j * p + s] = kernel[i, j, k]
    return out


class Toy(nn.Module):
    """Named like a transformer block: square attention projections, non-square FFN, a head."""

    def __init__(self, d: int = 12, ff: int = 18, dtype=torch.float64, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.attn = nn.ModuleDict({n: nn.Linear(d, d, dtype=dtype) for n in ("query", "key", "value")})
        self.ffn = nn.ModuleDict({"up": nn.Linear(d, ff, dtype=dtype), "down": nn.Linear(ff, d, dtype=dtype)})
        self.classifier = nn.Linear(d, 2, dtype=dtype)

    def forward(self, x):
        h = self.attn["query"](x) + self.attn["key"](x) + self.attn["value"](x)
        h = h + self.ffn["down"](torch.tanh(self.ffn["up"](h)))
        return self.classifier(h)


def bca_layer(base: nn.Linear, p: int, init: str = "zero", adapter: str = "default"):
    """One BCALinear around ``base`` (adapter ``adapter``), as peft's tuner would build it."""
    from bca.adapters import BCAConfig, BCALinear

    return BCALinear(base, adapter, p, BCAConfig(block_size=p, init=init))


def cdd_layer(base: nn.Linear, p: int, num_factors: int = 1, init: str = "zero", adapter: str = "default"):
    from bca.adapters import CDDConfig, CDDLinear

    return CDDLinear(base, adapter, p, CDDConfig(block_size=p, num_factors=num_factors, init=init))


def adapter_params(module: nn.Module) -> dict[str, torch.nn.Parameter]:
    """The adapter parameters of a tuner layer or model: everything that is not the wrapped base layer's."""
    return {n: p for n, p in module.named_parameters() if "base_layer" not in n.split(".")}
