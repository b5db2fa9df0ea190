"""Did training move the weights: a sample of every trainable tensor before, a count of those changed after.

:func:`course_lib.train.train` fails loudly (``TrainingFailed``) when none changed (notebook 03); under FSDP2 every
process checks its own shard (docs/scaling_out.md).
"""

from __future__ import annotations

def _local_values(param):
    """This process's values of a parameter, flattened: its own shard under FSDP2 (a ``DTensor``), else all."""
    return (param.to_local() if hasattr(param, "to_local") else param).detach().reshape(-1)


def _snapshot(model, per_tensor: int = 64) -> dict:
    """A fixed sample of ``per_tensor`` values from every trainable tensor (cheap even for full fine-tuning).

    Under FSDP2 each process samples its own shard (a process may hold none of a small tensor).
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    snap = {}
    for name, param in model.named_parameters():
        flat = _local_values(param)
        if param.requires_grad and flat.numel():
            index = torch.randint(0, flat.numel(), (min(per_tensor, flat.numel()),), generator=generator)
            snap[name] = (index, flat[index.to(flat.device)].float().cpu().clone())
    return snap


def _changed_tensors(model, snap: dict) -> int:
    """How many of the snapshotted tensors differ from the snapshot now (the most any process saw).

    With several processes every one must call it (it is a collective): under FSDP2 a change may show only in
    another process's shard.
    """
    import torch

    from .. import distributed

    params = dict(model.named_parameters())
    changed = 0
    for name, (index, before) in snap.items():
        flat = _local_values(params[name])
        changed += int(not torch.equal(flat[index.to(flat.device)].float().cpu(), before))
    return int(distributed.max_across_processes([changed])[0])


def trainable_state(model) -> dict:
    """``{name: tensor}`` copies (CPU, fp32) of every trainable parameter — for comparing runs."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}
