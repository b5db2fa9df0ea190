"""Memory per device for each layout (single, DDP, FSDP), on top of the single-device estimate (notebook 03)."""

from __future__ import annotations

from dataclasses import dataclass

from ..distributed import BatchPlan, plan_batch
from ..errors import ConfigError
from ..runtime import DEFAULT_DECODER
from .predict import estimate
from .result import PeakMoment
from .shape import ModelShape, model_shape

LAYOUTS = ("single", "ddp", "fsdp")


@dataclass(frozen=True)
class LayoutMemory:
    """Predicted peak memory of ONE device for a layout, in bytes per part (see :func:`layout_memory`).

    Attributes:
        layout: ``"single"``, ``"ddp"`` or ``"fsdp"``.
        processes: devices sharing the job (1 for ``single``).
        plan: how the global batch is split (:class:`course_lib.distributed.BatchPlan`); activations are for
            ``plan.per_device_batch``.
        parts: part name -> bytes on each device.
    """

    layout: str
    processes: int
    plan: BatchPlan
    parts: dict

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    def describe(self) -> str:
        gib = {k: v / 2**30 for k, v in self.parts.items() if v}
        body = ", ".join(f"{k} {v:.2f}" for k, v in gib.items())
        return f"{self.layout} x{self.processes}: {self.total / 2**30:.2f} GiB per device ({body})"


def layout_memory(layout: str, processes: int = 1, model=DEFAULT_DECODER, method: str = "lora",
                  profile: str = "a100", batch_size: int | None = None, grad_accum: int | None = None,
                  seq_len: int | None = None, precision: str | None = None) -> LayoutMemory:
    """Peak memory per device when the profile's global batch is trained with ``layout`` on ``processes`` devices.

    Starts from :func:`estimate` for one device at the per-device micro-batch of
    :func:`course_lib.distributed.plan_batch`, then:

    * ``single`` / ``ddp``: every device holds the full weights, gradients and AdamW states; DDP adds its
      all-reduce buckets, a second copy of every trainable gradient (4 bytes each).
    * ``fsdp`` (full shard): weights, their autocast copies, gradients and optimizer states divided by
      ``processes`` (and the optimiser's temporaries, when the optimiser step is fit's peak moment); plus the
      layers gathered in full while they run: two decoder blocks (the running one and the prefetched next one)
      and the root unit (embeddings / LM head), 4 bytes per parameter.

    Activations and logits scale with the per-device micro-batch in every layout. ``model`` is a registry name
    or a :class:`ModelShape`. Raises :class:`ConfigError` on an unknown layout or an uneven batch.
    """
    from .. import runtime

    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r} — use one of: {', '.join(LAYOUTS)}")
    processes = 1 if layout == "single" else int(processes)
    prof = runtime.get_profile(profile)
    plan = plan_batch(batch_size or prof.batch_size, grad_accum or prof.grad_accum, processes)
    shape = model if isinstance(model, ModelShape) else model_shape(model)
    # flops_per_s given: only the memory parts are used, so skip the CPU matmul measurement.
    est = estimate(shape, method, batch_size=plan.per_device_batch, seq_len=seq_len or prof.max_seq_len,
                   profile=profile, precision=precision, flops_per_s=1.0)
    parts = {"weights": est.weights, "autocast_copies": est.autocast_copies, "gradients": est.gradients,
             "optimizer": est.optimizer, "activations": est.activations, "logits": est.logits,
             "workspace": est.workspace}
    if layout == "ddp":
        parts["ddp_buckets"] = est.gradients
    elif layout == "fsdp":
        sharded = ["weights", "autocast_copies", "gradients", "optimizer"]
        if est.peak_moment is PeakMoment.OPTIMISER_STEP:  # the workspace is then AdamW's temporaries: each rank steps its shard
            sharded.append("workspace")
        for name in sharded:
            parts[name] = -(-parts[name] // processes)  # ceil: shards are padded to equal size
        block = sum(a * b for _, a, b in shape.linear_shapes) + 2 * shape.hidden
        parts["gathered_layers"] = 4 * (2 * block + shape.vocab * shape.hidden)
    return LayoutMemory(layout=layout, processes=processes, plan=plan, parts=parts)
