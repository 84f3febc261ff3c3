"""The shipped accelerate configs, and our adapters under sharding, as far as a CPU machine can check them.

accelerate refuses FSDP and DeepSpeed without a GPU, so the GPU configs are checked against accelerate's own
parsers (a mistyped key fails here, not on the cluster), and the part of FSDP that touches our code -- BCA and
CDD layers whose parameters are sharded, all-gathered and whose gradients are reduce-scattered -- runs under
torch's FSDP2 ``fully_shard`` on 2 CPU processes (gloo). The reference is the same model trained on the
whole batch in one process: DDP-style averaging of the two half-batch gradients must give its gradients.
"""

from pathlib import Path

import pytest
import torch
import yaml
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.commands.launch import launch_command_parser
from peft import get_peft_model

from bca.adapters import BCAConfig, CDDConfig
from bca.config.hydra_app import CONFIG_DIR

ACCELERATE_CONFIGS = sorted(Path(CONFIG_DIR, "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.stem)
def test_accelerate_config_has_only_keys_accelerate_knows(path):
    ClusterConfig.from_yaml_file(str(path))  # raises on unknown top-level keys
    options = {action.dest for action in launch_command_parser()._actions}
    data = yaml.safe_load(path.read_text())
    for section in ("fsdp_config", "deepspeed_config"):
        unknown = set(data.get(section) or {}) - options
        assert not unknown, f"{path.name}: {section} keys accelerate launch does not take: {sorted(unknown)}"


def tiny_llama(adapter: str, dtype: torch.dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    arch = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=32,
    )
    model = LlamaForCausalLM(arch).to(dtype)
    torch.manual_seed(1)  # non-zero adapters, so the base weights' gradients path is exercised too
    if adapter == "bca":
        config = BCAConfig(target_modules=["q_proj", "v_proj"], block_size=8, init="gaussian")
    else:
        config = CDDConfig(target_modules=["q_proj", "v_proj"], num_factors=2, init="gaussian")
    return get_peft_model(model, config).base_model.model  # the Llama model itself, its layers wrapped


def _sharded_worker(rank: int, store: str, adapter: str, dtype: torch.dtype, out: str) -> None:
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    ids = torch.randint(0, 64, (4, 12), generator=torch.Generator().manual_seed(5))
    model = tiny_llama(adapter, dtype)
    for layer in model.model.layers:  # what TRANSFORMER_BASED_WRAP does with LlamaDecoderLayer
        fully_shard(layer)
    fully_shard(model)
    half = ids[2 * rank : 2 * rank + 2]  # equal token counts: the mean of the halves' losses is the whole's
    model(input_ids=half, labels=half).loss.backward()
    grads = {n: p.grad.full_tensor() for n, p in model.named_parameters() if p.requires_grad}
    dtypes = {n: str(p.dtype) for n, p in model.named_parameters() if p.requires_grad}
    if rank == 0:
        torch.save({"grads": grads, "dtypes": dtypes}, out)
    dist.destroy_process_group()


@pytest.mark.slow  # 4 x 2 spawned processes importing torch + transformers (~40 s)
@pytest.mark.parametrize("adapter", ["bca", "cdd"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16-base"])
def test_adapters_sharded_with_fsdp2_give_the_one_process_gradients(adapter, dtype, tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "grads.pt"
    mp.spawn(_sharded_worker, args=(str(tmp_path / "store"), adapter, dtype, str(out)), nprocs=2)
    sharded = torch.load(out)

    reference = tiny_llama(adapter, dtype)
    ids = torch.randint(0, 64, (4, 12), generator=torch.Generator().manual_seed(5))
    reference(input_ids=ids, labels=ids).loss.backward()
    expected = {n: p.grad for n, p in reference.named_parameters() if p.requires_grad}

    assert set(sharded["grads"]) == set(expected) and len(expected) == (4 if adapter == "bca" else 20)
    assert set(sharded["dtypes"].values()) == {"torch.float32"}  # fp32 adapters, also in a bf16 model
    # fp32: summation order only. bf16 base: the halves run the bf16 matmuls on other shapes than the whole.
    rtol = 1e-5 if dtype == torch.float32 else 2e-2
    for name, grad in expected.items():
        scale = grad.abs().max()
        assert (sharded["grads"][name] - grad).abs().max() <= rtol * scale, name
