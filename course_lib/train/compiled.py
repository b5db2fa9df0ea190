"""The decoder blocks compiled with ``torch.compile`` for the training steps, eager everywhere else.

An eager training step on a CPU with fast bf16 matmuls (AMX) spends most of its time outside them: RMS norms,
rotary embeddings, SiLU, dtype casts, each one pass over the activations in memory. ``torch.compile`` (its CPU
backend, inductor) fuses those passes. :class:`CompiledBlocks` compiles each decoder block's call once per run,
with dynamic shapes (batches differ in length), and :meth:`CompiledBlocks.active` switches the compiled calls on
for one block of code: the course's Trainer enters it around each training step. Evaluation, callbacks between the
steps, generation and the returned model run the ordinary eager blocks, so nothing is compiled for shapes and dtypes
seen once. Blocks of the same structure share one compiled graph (the parameters are its inputs), so a 30-block
model compiles two graphs at most (blocks with and without adapters).

Whether a run uses it: ``runtime.compiled_training_pays`` (the machine) and ``train.run`` (a run long enough to
repay the compile). Measured in benchmarks/README.md; taught in notebook 03 (what a training step spends its time on).
"""

from __future__ import annotations

import contextlib

from ..models import body_and_head


def decoder_blocks(model) -> list:
    """The decoder blocks of ``model`` (a causal LM, with or without LoRA), or ``[]`` when its body has none the
    course knows (``models.body_and_head`` decides which architectures it can take apart)."""
    import torch

    parts = body_and_head(model)
    layers = getattr(parts[0], "layers", None) if parts is not None else None
    return list(layers) if isinstance(layers, torch.nn.ModuleList) else []


class CompiledBlocks:
    """A compiled call for every decoder block of ``model``; compiled lazily, at its first use in a step."""

    def __init__(self, model):
        import torch

        self._blocks = decoder_blocks(model)
        # nn.Module.compile() stores exactly this callable in ``_compiled_call_impl`` for good; here it is kept
        # aside and put in place only inside :meth:`active`. dynamic=True: one graph for every batch length.
        self._calls = [torch.compile(block._call_impl, dynamic=True) for block in self._blocks]

    def __len__(self) -> int:
        return len(self._blocks)

    @contextlib.contextmanager
    def active(self):
        """Within the block every decoder block runs its compiled call; on leaving it, also after an error, the
        blocks are eager again. The decoder must be called with ``use_cache=False``: a key/value cache object
        changes from call to call and would make the compiled graph be recompiled."""
        for block, call in zip(self._blocks, self._calls):
            block._compiled_call_impl = call
        try:
            yield self
        finally:
            for block in self._blocks:
                block._compiled_call_impl = None
