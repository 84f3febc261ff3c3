"""BCA and CDD are registered with peft under string peft types: every peft entry point must find them.

peft 0.21 has no public way to add a method outside its own ``PeftType`` enum (``bca.adapters.registration``
fills its three tables instead). These tests use each entry point a user has -- get_peft_model, save_pretrained,
PeftConfig/PeftModel.from_pretrained, merge_and_unload -- on a real transformers model, so a peft upgrade that
changes how methods are looked up fails here, loudly, instead of in a user's script.
"""

import copy

import pytest
import torch
from peft import PeftConfig, PeftModel, get_peft_model
from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING
from torch import nn

from bca.adapters import BCAConfig, BCALinear, BCAModel, CDDConfig, CDDLinear, CDDModel
from bca.adapters.registration import register
from bca.config.hydra_app import compose
from bca.models import load_model

CASES = {
    "bca": (BCAConfig, BCAModel, BCALinear, {"block_size": 8, "init": "gaussian"}),
    "cdd": (CDDConfig, CDDModel, CDDLinear, {"num_factors": 2, "init": "gaussian"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_peft_tables_hold_our_methods(name):
    config_cls, model_cls, _, kwargs = CASES[name]
    peft_type = name.upper()
    assert PEFT_TYPE_TO_CONFIG_MAPPING[peft_type] is config_cls
    assert PEFT_TYPE_TO_TUNER_MAPPING[peft_type] is model_cls
    assert PEFT_TYPE_TO_PREFIX_MAPPING[peft_type] == f"{name}_"
    assert config_cls(target_modules=["query"], **kwargs).peft_type == peft_type


def test_registration_refuses_to_shadow_a_peft_method_or_its_prefix():
    with pytest.raises(RuntimeError, match="peft already has a method 'LORA'"):
        register("LORA", BCAConfig, BCAModel)
    lora_like = type("LoraLike", (BCAModel,), {"prefix": "lora_"})
    with pytest.raises(RuntimeError, match="already uses the parameter prefix 'lora_'"):
        register("NOT_LORA", BCAConfig, lora_like)
    assert "NOT_LORA" not in PEFT_TYPE_TO_CONFIG_MAPPING  # nothing half-registered


def tiny_roberta():
    cfg = compose(["model=tiny-roberta"])
    torch.manual_seed(0)
    return load_model(cfg.model, num_labels=2).model


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_save_load_merge_on_a_transformers_model(name, tmp_path):
    config_cls, _, layer_cls, kwargs = CASES[name]
    base = tiny_roberta()
    fresh_base = copy.deepcopy(base)
    model = get_peft_model(base, config_cls(target_modules=["query", "value"], **kwargs))
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and all(f"{name}_" in n for n, p in model.named_parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    ids = torch.randint(5, 1000, (4, 10), generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 1, 0])
    for _ in range(3):
        optimizer.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        trained = model(input_ids=ids).logits
        base_logits = fresh_base.eval()(input_ids=ids).logits
    assert not torch.allclose(trained, base_logits)  # the adapter did something

    model.save_pretrained(tmp_path)
    assert type(PeftConfig.from_pretrained(tmp_path)) is config_cls
    loaded = PeftModel.from_pretrained(fresh_base, tmp_path).eval()
    assert sum(isinstance(m, layer_cls) for m in loaded.modules()) == 4
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, trained)
        merged = loaded.merge_and_unload()
        assert not any(isinstance(m, layer_cls) for m in merged.modules())
        query = merged.roberta.encoder.layer[0].attention.self.query
        assert type(query) is nn.Linear
        torch.testing.assert_close(merged(input_ids=ids).logits, trained, rtol=1e-5, atol=1e-5)
