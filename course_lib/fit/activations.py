"""Activation memory: the bytes the blocks save for backward, and which LoRA targets are counted.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

from .shape import ModelShape


def activation_bytes(shape: ModelShape, method: str, batch_size: int, seq_len: int, precision: str = "fp32",
                     targets=None, lora_r: int = 8, lora_dropout: float = 0.0) -> int:
    """Bytes the blocks save for backward (the ``course_lib.fit`` docstring lists the tensors per block).

    ``targets``: the LoRA target modules; ``None`` = every linear layer of a block (what training uses).
    """
    targets = lora_targets(shape, targets)
    t = batch_size * seq_len
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_width
    f32, half = 4, (4 if precision == "fp32" else 2)  # under autocast matmul outputs are 2 B; residual/norms fp32
    mlp = 3 if shape.gated_mlp else 2  # gate, activation, up (no gate in BERT)
    if method == "full":
        per_block = t * (5 * h * f32 + 3 * h * half + 2 * kv * half + (mlp + 1) * i * half)
    else:
        per_block = t * (3 * h * f32 + 2 * h * half + 2 * kv * half + mlp * i * half)
        widths = {name: a for name, a, _ in shape.linear_shapes}
        for name in targets:
            if name == "o_proj":
                per_block += t * h * half  # attention output kept for the adapter
            elif name == "down_proj":
                per_block += t * i * half
            elif name in ("gate_proj", "up_proj") and "gate_proj" not in targets[:targets.index(name)] \
                    and "up_proj" not in targets[:targets.index(name)]:
                per_block += t * h * f32  # second norm's output kept for the MLP adapters
            per_block += t * lora_r * half  # adapter A output, kept for B's gradient
            if lora_dropout > 0:
                per_block += t * widths.get(name, h) * (half + 1)  # dropped-out input + its mask
    return shape.layers * per_block + t * 3 * h * f32  # + the final norm


def lora_targets(shape: ModelShape, targets=None) -> tuple[str, ...]:
    """The LoRA target modules to count: ``targets`` as given, or, for ``None``, every linear layer of a block —
    the default of :class:`course_lib.train.TrainConfig` (``train.DEFAULT_TARGET_MODULES`` for Llama-style
    decoders), so the estimate describes the run the course actually trains."""
    return tuple(name for name, _, _ in shape.linear_shapes) if targets is None else tuple(targets)
