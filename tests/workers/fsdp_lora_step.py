"""Worker for tests/test_distributed.py: one LoRA step on a tiny Llama sharded by FSDP2 over 2 CPU processes.

Run with ``torchrun --nproc_per_node 2 fsdp_lora_step.py OUT``. Every rank trains the same batch, so the averaged
gradient equals the single-process one. Each rank writes a JSON report to ``OUT/report_rank<N>.json``: what the
course's weight-change check saw before and after the step; rank 0 also trains an unsharded replica and adds how the
adapter saved from the gathered state compares with the replica's. accelerate maps every CPU launch to plain
multi-process (DDP), so FSDP2 is applied here with torch's own ``fully_shard``, which is what accelerate calls on a
GPU machine.
"""

import copy
import json
import sys
import types
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from transformers import LlamaConfig, LlamaForCausalLM

from course_lib import distributed, runtime, train


def lora_step(model, batch):
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(**batch).loss.backward()
    optimizer.step()


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    cfg = train.TrainConfig(method="lora", lora_r=4, lora_alpha=8, lora_dropout=0.0).resolve(
        runtime.get_profile("smoke"))
    model = train.prepare_model(LlamaForCausalLM(config), cfg, seed=0)
    # LoRA starts with B = 0; give B values so one step moves A as well as B.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02, generator=torch.Generator().manual_seed(1))
    replica = copy.deepcopy(model)
    ids = torch.randint(0, 96, (2, 12), generator=torch.Generator().manual_seed(2))
    batch = {"input_ids": ids, "labels": ids}

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for layer in model.base_model.model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    sharded = sum(hasattr(p, "to_local") for p in model.parameters())

    snap = train._snapshot(model)
    unchanged = train._changed_tensors(model, snap)
    lora_step(model, batch)
    changed = train._changed_tensors(model, snap)
    gathered = distributed.full_state_dict(model)
    report = {"rank": rank, "sharded_params": sharded, "changed_before_step": unchanged,
              "changed_after_step": changed, "snapshotted": len(snap)}
    if rank == 0:
        lora_step(replica, batch)
        folder = train.save_trained(model, types.SimpleNamespace(save_pretrained=lambda _: None), out / "adapter",
                                    state_dict=gathered)
        from safetensors.torch import load_file

        saved = load_file(str(folder / "adapter_model.safetensors"))
        expected = {n: p.detach() for n, p in replica.named_parameters() if p.requires_grad}
        report.update(saved=len(saved), expected=len(expected), shapes_match=all(
            any(tuple(v.shape) == tuple(e.shape) for e in expected.values()) for v in saved.values()))
        # peft drops the adapter name ("default") from the saved keys; match by the rest of the name.
        diffs = [(saved[k] - next(e for n, e in expected.items() if n.replace(".default", "") == k)).abs().max()
                 for k in saved]
        report["max_abs_diff"] = float(max(diffs)) if diffs else None
    # One file per rank: two ranks printing to the same pipe can interleave their lines (seen in CI: rank 1's
    # report glued to the end of rank 0's line).
    (out / f"report_rank{rank}.json").write_text(json.dumps(report))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
