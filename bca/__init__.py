"""bca: reproduction and benchmark suite for circulant and Fourier-domain PEFT.

``from bca import BCAConfig, CDDConfig`` gives our adapters as peft methods (``bca.adapters``; importing them
registers BCA and CDD with peft). Loaded on first use, so ``import bca`` (the CLIs, bca-table) stays light.
"""

_ADAPTERS = ("BCAConfig", "CDDConfig", "BCAModel", "CDDModel", "BCALinear", "CDDLinear")


def __getattr__(name: str):
    if name in _ADAPTERS:
        import bca.adapters

        return getattr(bca.adapters, name)
    raise AttributeError(f"module 'bca' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_ADAPTERS])
