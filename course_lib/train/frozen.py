"""Frozen base weights in bf16 for LoRA's training steps under bf16 autocast; fp32 everywhere else.

Under bf16 autocast every matmul rounds its fp32 weight to bf16 first; for a frozen weight that rounding is done
again at every forward pass and its copy is kept for the backward pass. :class:`Bf16FrozenCopies` rounds each frozen
linear weight once, and :meth:`Bf16FrozenCopies.swapped_in` puts the roundings in place for one block: the course's
Trainer enters it around each training and evaluation step (which run under autocast), so the matmuls see the same
bf16 values as before, while everything between the steps (callbacks that score the model in fp32, checkpoints)
and the model :func:`course_lib.train.train` returns see the fp32 weights they were given. Swapping is a pointer
change, not a copy. Whether a run uses it is ``runtime.frozen_weights_in_bf16`` (bf16 CPUs); benchmarks/README.md
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


class Bf16FrozenCopies:
    """The bf16 rounding of every frozen fp32 ``nn.Linear`` weight of ``model``, made once (half the fp32 size).

    Trainable weights (the adapters, or every weight in full fine-tuning) get none: the optimiser needs them in
    fp32. A head tied to the input embedding gets its own bf16 parameter while swapped in, and the embedding stays
    fp32: a bf16 lookup would put the residual stream in bf16, which autocast does not do.
    """

    def __init__(self, model):
        import torch

        embedding_ids = _embedding_parameter_ids(model)
        self._data = []  # (parameter, fp32 tensor, bf16 tensor): swapped through .data
        self._tied = []  # (module, tied fp32 parameter, own bf16 parameter): swapped as module.weight
        for module in _frozen_fp32_linears(model):
            weight = module.weight
            rounded = weight.detach().to(torch.bfloat16)
            if id(weight) in embedding_ids:
                self._tied.append((module, weight, torch.nn.Parameter(rounded, requires_grad=False)))
            else:
                self._data.append((weight, weight.data, rounded))

    def __len__(self) -> int:
        return len(self._data) + len(self._tied)

    @contextlib.contextmanager
    def swapped_in(self):
        """Within the block the model computes with the bf16 roundings (run it under bf16 autocast: a bf16 weight
        meeting an fp32 input outside autocast is an error); on leaving it, also after an error, the fp32 weights
        are back, bit for bit, and a tied head is tied again."""
        for weight, _, rounded in self._data:
            weight.data = rounded
        for module, _, rounded in self._tied:
            module.weight = rounded
        try:
            yield self
        finally:
            for weight, fp32, _ in self._data:
                weight.data = fp32
            for module, tied, _ in self._tied:
                module.weight = tied
