"""One registration per method (bca.methods): every shipped method is registered once, goes through peft, and
its lr scale, row label and settings come from that registration alone."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf
from peft import PeftModel

from bca import methods
from bca.config.hydra_app import CONFIG_DIR, compose
from bca.methods import apply_method, optimizer_groups
from bca.models import build_meta_model

SHIPPED = sorted(p.stem for p in (Path(CONFIG_DIR) / "method").glob("*.yaml"))


def test_every_shipped_method_is_registered_once_with_its_schema():
    assert SHIPPED == sorted(methods.METHODS) == ["bca", "c3a", "cdd", "fourierft", "lora", "vera"]
    schemas = methods.method_schemas()
    for name in SHIPPED:
        assert OmegaConf.get_type(compose([f"method={name}"]).method) is schemas[name]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_method_is_put_on_the_model_by_peft(name):
    cfg = compose(["model=tiny-roberta", f"method={name}"])
    model = apply_method(build_meta_model(cfg.model), cfg.method)
    assert isinstance(model, PeftModel)
    split = methods.split_trainable(model, cfg.method)
    assert split.adapter and split.head  # adapter by its markers, head by bca.models.head_parameter_names


def test_bca_lr_scale_is_the_one_on_bca_config(monkeypatch):
    """The runner's 1/p is BCAConfig.lr_scale itself, not a copy of the rule (change it there, it changes here)."""
    from bca.adapters import BCAConfig

    cfg = compose(["model=tiny-roberta", "method=bca", "method.block_size=8"])
    model = apply_method(build_meta_model(cfg.model), cfg.method)
    assert optimizer_groups(model, cfg.method)[0]["lr"] == pytest.approx(cfg.method.lr / 8)
    monkeypatch.setattr(BCAConfig, "lr_scale", property(lambda self: 0.5))
    assert optimizer_groups(model, cfg.method)[0]["lr"] == pytest.approx(cfg.method.lr * 0.5)


@pytest.mark.parametrize(
    "overrides,label,settings",
    [
        (["method=lora"], "lora r=8", "r=8"),
        (["method=vera"], "vera r=1024", "r=1024"),
        (["method=fourierft"], "fourierft n_frequency=1000", "n_frequency=1000"),
        (["method=c3a"], "c3a block_size=384", "block_size=384"),
        (["method=bca"], "bca block_size=384", "block_size=384"),
        (["method=cdd"], "cdd b=max m=1", "block_size=gcd, num_factors=1"),
        (
            ["method=cdd", "method.block_size=64", "method.num_factors=2"],
            "cdd b=64 m=2",
            "block_size=64, num_factors=2",
        ),
    ],
)
def test_row_labels_and_settings_are_the_ones_committed_tables_use(overrides, label, settings):

    cfg = compose(overrides)
    assert methods.row_label(OmegaConf.to_container(cfg.method, resolve=True)) == label
    assert methods.settings_text(cfg.method) == settings


def test_a_method_this_checkout_does_not_know_keeps_its_name_as_label():
    assert methods.row_label({"name": "dora", "r": 4}) == "dora"
    with pytest.raises(ValueError, match="unknown method 'dora'; valid methods: bca, c3a"):
        methods.get_method("dora")
