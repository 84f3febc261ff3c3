"""The trainable task head is the whole head the papers train, counted as `head`; the adapter counts do not move.

References are analytic: a Linear(d_in, d_out) has d_in*d_out + d_out parameters. RoBERTa's head is
classifier.dense (d x d) + classifier.out_proj (d x labels); a BERT-family head is pooler.dense (d x d) + classifier
(d x labels).
"""

import pytest
from omegaconf import OmegaConf

from bca.config.hydra_app import compose
from bca.count import counting
from bca.methods import apply_method, split_trainable
from bca.models import build_meta_model, load_model
from bca.run import records


def linear(d_in, d_out):
    return d_in * d_out + d_out


def trainable_names(overrides):
    cfg = compose(["logger=disabled", *overrides])
    model = load_model(cfg.model, num_labels=2).model
    model = apply_method(model, cfg.method, cfg.model.head_modules)
    prefix = "base_model.model."  # every method goes through peft's get_peft_model
    return cfg, model, sorted(n.removeprefix(prefix) for n, p in model.named_parameters() if p.requires_grad)


def test_tiny_roberta_trains_the_whole_classifier_and_the_adapter():
    cfg, model, names = trainable_names(["model=tiny-roberta", "method=lora"])
    heads = [n for n in names if "lora_" not in n]
    assert heads == [
        "classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight",
    ]  # fmt: skip
    split = split_trainable(model, "lora", cfg.model.head_modules)
    assert split.head_count == linear(32, 32) + linear(32, 2)
    assert split.adapter_count == 2 * 2 * 8 * (32 + 32)  # 2 layers x (query, value) x r (d_in + d_out)


def test_tiny_bert_trains_pooler_and_classifier():
    cfg, model, names = trainable_names(["model=tiny-bert", "method=bca", "method.block_size=16"])
    heads = [n for n in names if "bca_" not in n]
    assert heads == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias", "classifier.weight"]
    split = split_trainable(model, "bca", cfg.model.head_modules)
    assert split.head_count == linear(32, 32) + linear(32, 2) == 1122
    assert split.adapter_count == 2 * 2 * 32 * 32 // 16


@pytest.mark.parametrize(
    "model,head",
    [
        ("minilm-l6", linear(384, 384) + linear(384, 2)),  # pooler 147,840 + classifier 770 = 148,610
        ("roberta-base", linear(768, 768) + linear(768, 2)),  # 592,130
    ],
)
def test_counted_head_of_the_real_sized_models(model, head):
    row = counting.count(compose([f"model={model}", "method=lora", "logger=disabled"]))
    assert row["head_params"] == head
    assert row["adapter_params"] == {"minilm-l6": 12 * 8 * 768, "roberta-base": 24 * 8 * 1536}[model]


def test_minilm_pooler_is_trainable_on_meta_too():
    cfg = compose(["model=minilm-l6", "method=lora", "logger=disabled"])
    model = apply_method(build_meta_model(cfg.model), cfg.method, cfg.model.head_modules)
    trainable = {n.removeprefix("base_model.model.") for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if "lora_" not in n} == {
        "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias",
    }  # fmt: skip


def test_the_old_classifier_only_head_keeps_the_committed_run_ids():
    """Records made before the pooler trained are still found under their ids with the old head spelled out."""
    old = compose(["model=minilm-l6", "method=lora", "model.head_modules=[classifier,score]", "logger=disabled"])
    new = compose(["model=minilm-l6", "method=lora", "logger=disabled"])
    plain = OmegaConf.to_container(old, resolve=True)
    del plain["model"]["head_modules"]  # how the config looked before the key existed
    assert records.run_id(OmegaConf.to_container(old, resolve=True)) == records.run_id(plain)
    assert records.run_id(OmegaConf.to_container(new, resolve=True)) != records.run_id(plain)
