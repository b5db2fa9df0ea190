"""Frozen base weights kept in bf16 while LoRA trains under bf16 autocast, and given back in fp32 afterwards.

Under bf16 autocast every matmul rounds its fp32 weight to bf16 first; for a frozen weight that rounding is done
again at every forward pass and its copy is kept for the backward pass. :func:`bf16_frozen_linears` rounds each
frozen linear weight once, for the length of a run, and puts the fp32 tensors back when the run ends: the matmuls
see the same bf16 values, the model :func:`course_lib.train.train` returns (and merges, and saves) is the fp32
model it was given. Whether a run uses it is ``runtime.frozen_weights_in_bf16`` (bf16 CPUs); benchmarks/README.md
has the measurement. Taught in notebook 03 (what a training step spends its time on).
"""

from __future__ import annotations

import contextlib


def _embedding_parameter_ids(model) -> set:
    """``id`` of every embedding weight: an output head tied to one (SmolLM2's) must not change the embedding."""
    import torch

    return {id(module.weight) for module in model.modules() if isinstance(module, torch.nn.Embedding)}


def _frozen_fp32_linears(model) -> list:
    """Linear layers of ``model`` whose weight is fp32 and takes no gradient (LoRA's base layers, the head)."""
    import torch

    return [module for module in model.modules() if isinstance(module, torch.nn.Linear)
            and module.weight.dtype == torch.float32 and not module.weight.requires_grad]


@contextlib.contextmanager
def bf16_frozen_linears(model, enabled: bool = True):
    """Within the block, every frozen fp32 ``nn.Linear`` weight of ``model`` is stored as its bf16 rounding;
    on leaving it (also after an error) the original fp32 tensors are back, bit for bit.

    A head tied to the input embedding gets its own bf16 copy for the block (the embedding stays fp32: a bf16
    lookup would put the residual stream in bf16, which autocast does not do), and is tied again afterwards.
    Trainable weights (the adapters, or every weight in full fine-tuning) are left alone: the optimiser needs
    them in fp32. Yields the number of weights it stored in bf16 (0 when ``enabled`` is false).
    """
    import torch

    if not enabled:
        yield 0
        return
    embedding_ids = _embedding_parameter_ids(model)
    rounded, untied = [], []
    try:
        for module in _frozen_fp32_linears(model):
            weight = module.weight
            if id(weight) in embedding_ids:
                untied.append((module, weight))
                module.weight = torch.nn.Parameter(weight.detach().to(torch.bfloat16), requires_grad=False)
            else:
                rounded.append((weight, weight.data))
                weight.data = weight.data.to(torch.bfloat16)
        yield len(rounded) + len(untied)
    finally:
        for weight, fp32 in rounded:
            weight.data = fp32
        for module, weight in untied:
            module.weight = weight
