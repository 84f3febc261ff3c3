"""Our adapters (BCA, CDD) as peft methods: ``get_peft_model(model, BCAConfig(...))`` and the rest of peft.

Importing this package registers them with peft (``bca.adapters.registration``), so
``PeftModel.from_pretrained`` finds a saved BCA/CDD adapter after ``import bca.adapters`` (or
``from bca import BCAConfig``).
"""

from bca.adapters.base import valid_block_sizes
from bca.adapters.bca import BCAConfig, BCALinear, BCAModel
from bca.adapters.cdd import CDDConfig, CDDLinear, CDDModel
from bca.adapters.registration import register_all

register_all()

__all__ = ["BCAConfig", "BCALinear", "BCAModel", "CDDConfig", "CDDLinear", "CDDModel", "valid_block_sizes"]
