"""What an estimate says: the peak memory by part, the moment it peaks, and the time per step.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MIB = 2 ** 20


class PeakMoment(str, Enum):
    """When in a step the memory peaks (see ``course_lib.fit``); a ``str``, so it prints and compares as its text."""

    FORWARD_END = "end of the forward pass"  # inference: no backward, no optimiser
    BACKWARD_START = "start of backward"
    OPTIMISER_STEP = "optimiser step"

    def __str__(self) -> str:
        return self.value


@dataclass
class FitEstimate:
    """Predicted memory (bytes) by part and time per optimiser step.

    Parts: ``weights`` (fp32 master copy, or 2 B/param for half-precision inference), ``autocast_copies`` (2-byte
    matmul weights made by autocast), ``gradients``, ``optimizer`` (AdamW states), ``activations`` (saved for
    backward by the blocks), ``logits`` (logits, log-softmax and their gradients at the start of backward),
    ``workspace`` (backward workspace/allocator slack and optimiser temporaries — the "overhead").
    ``total`` is the peak: the larger of the two moments described in the package docstring, so it is *not* the sum
    of all parts (gradients and activations are mostly not alive at the same time).
    """

    method: str
    precision: str
    batch_size: int
    seq_len: int
    trainable_params: int
    weights: int
    autocast_copies: int
    gradients: int
    optimizer: int
    activations: int
    logits: int
    workspace: int
    total: int
    peak_moment: PeakMoment
    flops_per_step: float
    flops_per_s: float
    seconds_per_step: float

    @property
    def overhead(self) -> int:
        return self.workspace

    @property
    def optimizer_states(self) -> int:
        return self.optimizer

    def parts(self) -> dict:
        """The parts in MiB (rounded to 0.1)."""
        names = ("weights", "autocast_copies", "gradients", "optimizer", "activations", "logits", "workspace", "total")
        return {k: round(getattr(self, k) / MIB, 1) for k in names}

    def peak_parts(self) -> dict:
        """The parts alive at the peak moment, in bytes; they add up to ``total``.

        At the start of backward: weights, autocast copies, optimizer states, activations, logits and the backward
        workspace (the weight gradients do not exist yet). At the optimiser step: weights, optimizer states,
        gradients and the optimiser temporaries (activations and logits are freed). Inference: weights,
        activations and logits. Parts not alive at the peak are 0, so a stacked bar of these is the peak.
        """
        names = ("weights", "autocast_copies", "gradients", "optimizer", "activations", "logits", "workspace")
        parts = {k: getattr(self, k) for k in names}
        if self.peak_moment is PeakMoment.BACKWARD_START:
            parts["gradients"] = 0
        elif self.peak_moment is PeakMoment.OPTIMISER_STEP:
            parts.update(autocast_copies=0, activations=0, logits=0)
        return parts

    def explain(self) -> str:
        """One line per part, with where it comes from, then the peak and the time per step."""
        m = self.parts()
        lines = [f"{self.method}, {self.precision}, batch {self.batch_size} x {self.seq_len} tokens, "
                 f"{self.trainable_params:,} trainable parameters",
                 f"  weights          {m['weights']:8.1f} MiB  every parameter, "
                 f"{'2 B (half-precision inference)' if self.method == 'inference' and self.precision != 'fp32' else '4 B (fp32)'}",
                 f"  autocast copies  {m['autocast_copies']:8.1f} MiB  2-byte matmul weights kept for backward",
                 f"  gradients        {m['gradients']:8.1f} MiB  4 B per trainable parameter",
                 f"  optimizer states {m['optimizer']:8.1f} MiB  AdamW: 2 moments x 4 B per trainable parameter",
                 f"  activations      {m['activations']:8.1f} MiB  tensors saved for backward in every block",
                 f"  logits           {m['logits']:8.1f} MiB  B x L x vocab: logits, log-softmax and 2 gradients",
                 f"  overhead         {m['workspace']:8.1f} MiB  backward workspace, allocator slack, optimiser "
                 "temporaries",
                 f"  peak             {m['total']:8.1f} MiB  at the {self.peak_moment}",
                 f"  time per step    {self.seconds_per_step:8.3f} s    {self.flops_per_step / 1e9:.1f} GFLOP at "
                 f"{self.flops_per_s / 1e9:.0f} GFLOP/s achieved"]
        return "\n".join(lines)

    __str__ = explain

