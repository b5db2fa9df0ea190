"""Will it fit, and how long will a step take? A memory and time estimate before training.

``estimate(model, method, batch_size, seq_len, precision)`` returns a :class:`FitEstimate` with the peak memory
split into its parts (bytes) and a predicted time per optimiser step (seconds); ``measure_peak`` runs real steps
and measures the peak so the two can be compared (notebook 02, ``tests/test_fit.py``); ``measure_peak_fresh`` does
the same in a fresh Python process, for a clean peak from inside a notebook. ``layout_memory(layout, processes)``
applies the estimate to one device of a job split over several (DDP or FSDP: notebook 03, docs/scaling_out.md).

Memory model (one optimiser step, AdamW, no gradient checkpointing)
--------------------------------------------------------------------
* **weights**: every parameter in fp32 (4 B) — the master copy. Under bf16/fp16 autocast every matmul weight is
  also cast to a 2-byte copy that autograd keeps until backward (``+ 2 B x matmul parameters``). Inference in
  bf16/fp16 stores the weights in 2 B instead.
* **gradients**: 4 B per *trainable* parameter (fp32, like the master weights). LoRA: only the adapters.
* **optimizer states**: AdamW keeps two fp32 moments per trainable parameter: 8 B each.
* **activations**: tensors autograd saves for backward, counted per Llama block (B = batch, L = sequence,
  h = hidden, i = MLP intermediate, kv = key/value width = kv_heads x head_dim). Counted from the code of
  ``LlamaDecoderLayer`` (transformers 5.23) and checked with ``torch.autograd.graph.saved_tensors_hooks`` on
  SmolLM2 (fp32: LoRA 3.8 MiB counted vs 3.9 modelled per layer at B=2, L=64; full 5.4 vs 5.4):

  - full fine-tuning: 8 tensors of ``B·L·h`` (layer input, RMSNorm output before and after its weight, RoPE'd
    query, attention output, residual sum, second norm before/after weight), 2 of ``B·L·kv`` (RoPE'd key, value)
    and 4 of ``B·L·i`` (gate, SiLU output, up, their product);
  - LoRA on q/v only (frozen base): 5 of ``B·L·h`` (a frozen linear needs only its weight for backward, so norm
    outputs feeding only frozen layers are not kept), 2 of ``B·L·kv``, 3 of ``B·L·i`` (product not kept: the
    down projection is frozen). Each extra target module keeps its input (``+ B·L·in_features``).
  - attention scores: SDPA's fused kernels keep only a log-sum-exp per query (``B·heads·L``), so no ``L x L``
    term; the ``eager`` implementation would keep ``2 x B·heads·L·L``.
  - the head: logits ``B·L·V`` are returned to the caller, the log-softmax output is saved, and backward makes
    two more ``B·L·V`` buffers (gradient of the log-probabilities, gradient of the logits) — 4 copies at the peak.
    With a 49k vocabulary this is the biggest activation of a small model. (``course_lib.train``'s single-process
    trainer sends only the labelled positions — the answers — through the head, so its real logits part is smaller
    by the share of prompt and padding tokens; the estimate is that of the standard path, loss on every token, as
    ``measure_peak`` runs it.)

  Under autocast, matmul outputs are 2 B (the residual stream and norms stay fp32); modelled, not yet checked.
* **overhead**: AdamW's per-tensor temporaries in the optimiser step (PyTorch's single-tensor loop on CPU: about
  2 x the largest trainable tensor; the foreach path on CUDA: about 1 x all trainable parameters) plus backward
  workspace and allocator slack, modelled as ``BACKWARD_SLACK`` x activations (0.35, fitted on this machine from
  the B=8, L=128 runs and checked at other shapes in the tests).

The peak is the larger of two moments: the start of backward (weights + optimizer states + activations + head
buffers + slack) and the optimiser step (weights + optimizer states + gradients + temporaries).

Time model
----------
A matmul with a weight of N parameters costs 2·N FLOPs per token forward. Backward costs 2·N for the gradient of
the input and 2·N for the gradient of the weight. Full fine-tuning: ``6·N·tokens``. LoRA with a frozen base: the
weight gradients of the base are skipped but the input gradients must still flow back through every layer to
reach the earliest adapters, so ``≈ 4·N·tokens`` (+ 6 x the tiny adapters). Attention adds ``4·L·h`` FLOPs per
token per layer forward (Q·Kᵀ and scores·V), x3 with backward. N counts matmul weights only (the embedding lookup
is free; the tied LM head is a matmul). Seconds = FLOPs / (peak FLOP/s x ``utilisation``), with the peak given
per profile (GPU datasheets) or measured on the CPU with one square matmul in the training precision.

One concern per module; every name is used as ``course_lib.fit.<name>``, re-exported below:

* ``shape``: :class:`ModelShape`, :func:`shape_from_config`, :func:`model_shape`
* ``result``: :class:`FitEstimate` (the parts, the peak, :meth:`FitEstimate.explain`), :class:`PeakMoment`
* ``activations``: :func:`activation_bytes`, :func:`lora_targets`
* ``flops``: ``PROFILE_PEAK_FLOPS``, ``DEFAULT_UTILISATION``, :func:`measure_matmul_peak`
* ``predict``: :func:`estimate` (one step split into its memory parts and FLOPs), ``BACKWARD_SLACK``
* ``measure``: :func:`measure_peak`, :func:`measure_peak_fresh`, :class:`MeasuredPeak`
* ``layout``: :func:`layout_memory`, :class:`LayoutMemory`, ``LAYOUTS``
* ``command``: :func:`run_fit` (``python -m course_lib fit``)

torch and transformers are imported inside functions only.
"""

from .activations import activation_bytes, lora_targets
from .command import run_fit
from .flops import DEFAULT_UTILISATION, PROFILE_PEAK_FLOPS, measure_matmul_peak
from .layout import LAYOUTS, LayoutMemory, layout_memory
from .measure import MeasuredPeak, measure_peak, measure_peak_fresh
from .predict import BACKWARD_SLACK, estimate
from .result import MIB, FitEstimate, PeakMoment
from .shape import ModelShape, model_shape, shape_from_config

__all__ = [
    "BACKWARD_SLACK", "DEFAULT_UTILISATION", "LAYOUTS", "MIB", "PROFILE_PEAK_FLOPS",
    "FitEstimate", "LayoutMemory", "MeasuredPeak", "ModelShape", "PeakMoment",
    "activation_bytes", "estimate", "layout_memory", "lora_targets", "measure_matmul_peak", "measure_peak",
    "measure_peak_fresh", "model_shape", "run_fit", "shape_from_config",
]
