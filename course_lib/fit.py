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

torch and transformers are imported inside functions only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .distributed import BatchPlan, plan_batch
from .errors import ConfigError
from .runtime import DEFAULT_DECODER

MIB = 2 ** 20
# Backward workspace + allocator slack as a share of the activations: (measured peak - modelled parts) / activations
# was 0.19-0.58 over LoRA/full x (B=2, L=64)/(B=8, L=128) in fp32 on the 2-core EPYC; 0.35 is the middle.
BACKWARD_SLACK = 0.35
DEFAULT_UTILISATION = 0.45  # achieved / matmul-peak FLOP/s of a small-model training step (see benchmarks/)
# Datasheet dense matmul peaks (FLOP/s) for the GPU profiles; the CPU peak is measured.
PROFILE_PEAK_FLOPS = {"t4": 65e12, "a100": 312e12}  # T4 fp16 tensor cores; A100 bf16 (L4/H100 differ)



class PeakMoment(str, Enum):
    """When in a step the memory peaks (module docstring); a ``str``, so it prints and compares as its text."""

    FORWARD_END = "end of the forward pass"  # inference: no backward, no optimiser
    BACKWARD_START = "start of backward"
    OPTIMISER_STEP = "optimiser step"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs from a model config (sizes in elements).

    ``linear_shapes``: ``(name, in_features, out_features)`` of the linear layers of one block;
    ``params``: all parameters (tied embeddings once); ``matmul_params``: linear weights of all blocks + LM head;
    ``largest_tensor``: elements of the biggest parameter tensor (the embedding for small-vocabulary-heavy models).
    """

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    gated_mlp: bool
    linear_shapes: tuple
    params: int
    matmul_params: int
    largest_tensor: int
    max_positions: int = 0

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim


def shape_from_config(config) -> ModelShape:
    """A :class:`ModelShape` from a transformers config (Llama-style decoders; BERT-style encoders approximately)."""
    h, heads = config.hidden_size, config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    d = getattr(config, "head_dim", None) or h // heads
    i, layers, vocab = config.intermediate_size, config.num_hidden_layers, config.vocab_size
    gated = getattr(config, "model_type", "llama") not in ("bert", "roberta", "distilbert", "xlm-roberta")
    linears = [("q_proj", h, heads * d), ("k_proj", h, kv * d), ("v_proj", h, kv * d), ("o_proj", heads * d, h)]
    linears += ([("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h)] if gated
                else [("up_proj", h, i), ("down_proj", i, h)])
    block = sum(a * b for _, a, b in linears)
    tied = bool(getattr(config, "tie_word_embeddings", True))
    head = vocab * h
    if gated:  # Llama: RMSNorm weights only, no biases
        params = layers * (block + 2 * h) + h + head * (1 if tied else 2)
        matmul = layers * block + head
    else:  # BERT: biases, two LayerNorms a block, position and type embeddings, pooler; no LM head
        params = (layers * (block + 4 * h + 2 * h + i + 2 * h) + head
                  + getattr(config, "max_position_embeddings", 512) * h + 2 * h + 2 * h + h * h + h)
        matmul = layers * block
    return ModelShape(layers=layers, hidden=h, intermediate=i, heads=heads, kv_heads=kv, head_dim=d, vocab=vocab,
                      tied=tied, gated_mlp=gated, linear_shapes=tuple(linears), params=params, matmul_params=matmul,
                      largest_tensor=max(head, h * i),
                      max_positions=getattr(config, "max_position_embeddings", 0))


def model_shape(model) -> ModelShape:
    """Shape from a registry name (reads only its config), a transformers config, a loaded model or a ModelShape."""
    if isinstance(model, ModelShape):
        return model
    if isinstance(model, str):
        from transformers import AutoConfig

        from . import models

        spec = models.get_spec(model)
        folder = models.cached_checkpoint(model, progress=False) if spec.gguf_file else models.encoder_folder(model)
        return shape_from_config(AutoConfig.from_pretrained(folder))
    config = getattr(model, "config", None)
    if config is None and hasattr(model, "hidden_size"):
        config = model
    if config is None:
        raise ConfigError(f"cannot read a model shape from a {type(model).__name__} — pass a registry name, a "
                          "transformers config or a loaded model")
    return shape_from_config(config)


@dataclass
class FitEstimate:
    """Predicted memory (bytes) by part and time per optimiser step.

    Parts: ``weights`` (fp32 master copy, or 2 B/param for half-precision inference), ``autocast_copies`` (2-byte
    matmul weights made by autocast), ``gradients``, ``optimizer`` (AdamW states), ``activations`` (saved for
    backward by the blocks), ``logits`` (logits, log-softmax and their gradients at the start of backward),
    ``workspace`` (backward workspace/allocator slack and optimiser temporaries — the "overhead").
    ``total`` is the peak: the larger of the two moments described in the module docstring, so it is *not* the sum
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


_MATMUL_PEAK: dict = {}


def measure_matmul_peak(precision: str = "fp32", device: str = "cpu", size: int = 1024, repeats: int = 5) -> float:
    """Best FLOP/s of a square ``size x size`` matmul in ``precision`` on ``device`` (measured once per process)."""
    import time

    import torch

    key = (precision, device, size)
    if key not in _MATMUL_PEAK:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        best = float("inf")
        for _ in range(repeats + 1):  # the first run warms caches and the kernel choice
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        _MATMUL_PEAK[key] = 2 * size ** 3 / best
    return _MATMUL_PEAK[key]


def _precision_for(profile, precision):
    if precision is not None:
        if precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"unknown precision {precision!r} — use fp32, bf16 or fp16")
        return precision
    from . import runtime

    prof = runtime.get_profile(profile) if isinstance(profile, str) else profile
    if prof.precision != "auto":
        return prof.precision
    # The same rules as runtime.choose_precision, without measuring: t4 -> fp16, a100 -> bf16, cpu -> bf16 when the
    # CPU has native bf16 instructions.
    return {"t4": "fp16", "a100": "bf16"}.get(prof.name) or ("bf16" if runtime.cpu_supports_bf16() else "fp32")


def activation_bytes(shape: ModelShape, method: str, batch_size: int, seq_len: int, precision: str = "fp32",
                     targets=None, lora_r: int = 8, lora_dropout: float = 0.0) -> int:
    """Bytes the blocks save for backward (see the module docstring for the per-block tensor list).

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


def estimate(model=DEFAULT_DECODER, method: str = "lora", batch_size: int = 8, seq_len: int = 128,
             profile="cpu", precision: str | None = None, lora_r: int = 8, targets=None,
             lora_dropout: float = 0.0, device: str | None = None, flops_per_s: float | None = None,
             utilisation: float = DEFAULT_UTILISATION) -> FitEstimate:
    """Predict the peak memory and the time per optimiser step of training (or running) ``model``.

    Args:
        model: registry name, transformers config, loaded model or :class:`ModelShape`.
        method: ``"lora"``, ``"full"`` or ``"inference"`` (forward only).
        batch_size, seq_len: sequences per step and their (padded) length in tokens.
        profile: profile name or Profile: decides the precision and device when not given.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` — overrides the profile.
        lora_r, targets, lora_dropout: the LoRA set-up (dropout > 0 keeps a dropped-out copy of each target input);
            ``targets=None``: every linear layer of a block, as ``course_lib.train`` trains by default.
        device: ``"cpu"`` or ``"cuda"`` (default: cuda for the t4/a100 profiles).
        flops_per_s: *achieved* FLOP/s; default: ``utilisation`` x the datasheet peak (GPU profiles) or x a matmul
            peak measured here (CPU, ~0.2 s once per process).
    """
    if method not in ("lora", "full", "inference"):
        raise ConfigError(f"unknown method {method!r} — use 'lora', 'full' or 'inference'")
    if int(batch_size) < 1 or int(seq_len) < 1:
        raise ConfigError(f"batch_size={batch_size} and seq_len={seq_len} must both be at least 1")
    shape = model_shape(model)
    precision = _precision_for(profile, precision)
    prof_name = profile if isinstance(profile, str) else profile.name
    device = device or ("cuda" if prof_name in PROFILE_PEAK_FLOPS else "cpu")
    dims = {name: (a, b) for name, a, b in shape.linear_shapes}
    targets = lora_targets(shape, targets)
    unknown = [t for t in targets if t not in dims]
    if method == "lora" and unknown:
        raise ConfigError(f"unknown LoRA targets {unknown} — choose from {', '.join(dims)}")
    lora_params = shape.layers * sum(lora_r * sum(dims[t]) for t in targets) if method == "lora" else 0
    trainable = {"full": shape.params, "lora": lora_params, "inference": 0}[method]
    tokens = batch_size * seq_len
    h, v = shape.hidden, shape.vocab
    attention_flops = 4 * seq_len * h * shape.layers * tokens  # Q·K^T and scores·V, forward
    half = precision != "fp32"
    if method == "inference":
        act_b = 2 if half else 4
        weights = shape.params * act_b
        activations = tokens * (4 * h + 2 * shape.intermediate) * act_b  # a few live tensors of one block
        logits = tokens * v * (act_b + 4)  # logits + an fp32 copy for sampling / the loss
        parts = dict(weights=weights, autocast_copies=0, gradients=0, optimizer=0, activations=activations,
                     logits=logits, workspace=0)
        total, moment = weights + activations + logits, PeakMoment.FORWARD_END
        flops = 2 * shape.matmul_params * tokens + attention_flops
    else:
        weights = shape.params * 4
        copies = shape.matmul_params * 2 if half else 0
        grads, opt = trainable * 4, trainable * 8
        activations = activation_bytes(shape, method, batch_size, seq_len, precision, targets, lora_r, lora_dropout)
        # returned logits (+ their fp32 copy under autocast), log-softmax output, then 2 gradients of B·L·V in fp32
        logits = tokens * v * ((2 + 4) if half else 4) + 3 * tokens * v * 4
        slack = int(BACKWARD_SLACK * activations)
        head_grad = v * h * 4 if method == "full" else 0  # the LM head's weight gradient is the first one made
        # AdamW temporaries: CPU single-tensor loop ~2 x largest tensor; CUDA foreach ~1 x all trainable params.
        if method == "full":
            opt_temp = 2 * shape.largest_tensor * 4 if device == "cpu" else trainable * 4
            opt_temp += v * h * 4 if shape.tied else 0  # tied embedding: two gradients summed into one
        else:
            opt_temp = 2 * trainable * 4
        backward_start = weights + copies + opt + activations + logits + slack + head_grad
        optimizer_step = weights + opt + grads + opt_temp
        if backward_start >= optimizer_step:
            total, moment, workspace = backward_start, PeakMoment.BACKWARD_START, slack + head_grad
        else:
            total, moment, workspace = optimizer_step, PeakMoment.OPTIMISER_STEP, opt_temp
        parts = dict(weights=weights, autocast_copies=copies, gradients=grads, optimizer=opt,
                     activations=activations, logits=logits, workspace=workspace)
        per_param = 6 if method == "full" else 4  # frozen base: no weight gradients, input gradients still flow
        flops = per_param * shape.matmul_params * tokens + 3 * attention_flops + 6 * lora_params * tokens
    if flops_per_s is None:
        if device == "cuda" and prof_name in PROFILE_PEAK_FLOPS:
            peak = PROFILE_PEAK_FLOPS[prof_name]
        else:
            peak = measure_matmul_peak("bf16" if precision == "bf16" else "fp32", device)
        flops_per_s = peak * utilisation
    return FitEstimate(method=method, precision=precision, batch_size=int(batch_size), seq_len=int(seq_len),
                       trainable_params=int(trainable), total=int(total), peak_moment=moment,
                       flops_per_step=float(flops), flops_per_s=float(flops_per_s),
                       seconds_per_step=float(flops) / float(flops_per_s), **{k: int(x) for k, x in parts.items()})


@dataclass
class MeasuredPeak:
    """What :func:`measure_peak` saw: ``peak_bytes`` comparable to ``FitEstimate.total``, and time per step."""

    method: str
    precision: str
    batch_size: int
    seq_len: int
    peak_bytes: int
    weights_bytes: int
    seconds_per_step: float
    kind: str

    def __str__(self) -> str:
        return (f"measured {self.method} {self.precision} B={self.batch_size} L={self.seq_len}: peak "
                f"{self.peak_bytes / MIB:.0f} MiB ({self.kind}), {self.seconds_per_step:.2f} s/step")


def measure_peak(method: str = "lora", batch_size: int = 2, seq_len: int = 64, precision: str = "fp32",
                 steps: int = 3, model: str = DEFAULT_DECODER, lora_r: int = 8, targets=None,
                 lora_dropout: float = 0.0, device: str = "cpu", seed: int = 0) -> MeasuredPeak:
    """Train ``steps`` real AdamW steps on random tokens and measure the peak memory and the time per step.

    What is measured:
        * CPU: a fresh copy of the model is loaded and its weights copied into ordinary memory (the loader may
          leave them memory-mapped); the process's peak resident set (``VmHWM``, via ``train.PeakMemory``) is reset
          right after. ``peak_bytes = peak RSS during the steps - RSS before them + bytes of the weights``, i.e.
          weights + everything training adds (gradients, AdamW states, activations, temporaries, allocator
          slack), without the Python/torch runtime. Run it in a fresh process for a clean number: memory that
          earlier work freed but the allocator kept is reused and hides part of the peak.
        * CUDA: ``torch.cuda.max_memory_allocated`` (tensors only; the CUDA context and the allocator's cache are
          not included).
    The loop is a plain PyTorch loop with ``torch.optim.AdamW`` (what ``Trainer``'s ``adamw_torch`` uses), the
    loss on every token, ``use_cache=False``, autocast for bf16/fp16. Time per step: the mean of the steps after
    the first (the first also allocates the optimizer states).
    """
    import contextlib
    import time

    import torch

    from . import models, train

    if method not in ("lora", "full"):
        raise ConfigError(f"measure_peak trains: method must be 'lora' or 'full', not {method!r}")
    torch.manual_seed(seed)
    base, _ = models.load_causal_lm(model, verbose=False)
    with torch.no_grad():
        for p in base.parameters():
            p.data = p.data.clone()  # out of the loader's memory map into ordinary (counted) memory
    base.to(device)
    weights = models.model_memory_bytes(base)
    config = train.TrainConfig(method=method, lora_r=lora_r, lora_alpha=2 * lora_r, lora_dropout=lora_dropout,
                               target_modules=train.DEFAULT_TARGET_MODULES if targets is None else tuple(targets))
    net = train.prepare_model(base, config, seed=seed)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    ids = torch.randint(3, base.config.vocab_size, (batch_size, seq_len), device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    times = []
    import gc

    gc.collect()
    with train.PeakMemory(device) as peak:
        for _ in range(steps):
            start = time.perf_counter()
            region = torch.autocast(device, dtype=dtype) if dtype else contextlib.nullcontext()
            with region:
                loss = net(input_ids=ids, labels=ids, use_cache=False).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            del loss
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    if device == "cuda":
        measured = peak.peak_bytes  # allocated tensors, weights included
    else:
        measured = peak.peak_bytes - peak.start_bytes + weights
    later = times[1:] or times
    return MeasuredPeak(method=method, precision=precision, batch_size=batch_size, seq_len=seq_len,
                        peak_bytes=int(measured), weights_bytes=int(weights),
                        seconds_per_step=sum(later) / len(later), kind=peak.kind)


_FRESH_SCRIPT = """
import dataclasses, json, sys
from course_lib import fit
kwargs = json.loads(sys.argv[1])
print("RESULT" + json.dumps(dataclasses.asdict(fit.measure_peak(**kwargs))))
"""


def measure_peak_fresh(method: str = "lora", batch_size: int = 2, seq_len: int = 64, precision: str = "fp32",
                       steps: int = 2, model: str = DEFAULT_DECODER, lora_r: int = 8,
                       targets=None, device: str = "cpu", timeout: float = 900) -> MeasuredPeak:
    """:func:`measure_peak` run in a fresh Python process, so the peak is clean wherever it is called from.

    In a process that has already loaded models or trained, the allocator keeps freed memory and reuses it, which
    hides part of the peak that ``measure_peak`` reads from the process's resident set (a notebook is such a
    process). The child imports torch and loads the model again (a few seconds), trains ``steps`` steps on
    ``device`` and reports back; :class:`RuntimeError` with the end of its error output if it fails (e.g. out of
    memory). On CUDA the peak is ``max_memory_allocated``, which a fresh process also keeps free of other work.
    """
    import json
    import subprocess

    if method not in ("lora", "full"):
        raise ConfigError(f"measure_peak_fresh trains: method must be 'lora' or 'full', not {method!r}")
    kwargs = dict(method=method, batch_size=int(batch_size), seq_len=int(seq_len), precision=precision,
                  steps=int(steps), model=model, lora_r=int(lora_r),
                  targets=None if targets is None else list(targets), device=device)
    root = str(Path(__file__).resolve().parent.parent)  # the course checkout, importable in the child
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", _FRESH_SCRIPT, json.dumps(kwargs)], capture_output=True, text=True,
                         timeout=timeout, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {method} B={batch_size} L={seq_len} {precision} in a fresh process failed "
                           f"(exit {out.returncode}): {out.stderr[-1500:]}")
    return MeasuredPeak(**json.loads(lines[-1][len("RESULT"):]))


# ----------------------------------------------------------------------------------------------------------------
# Memory per device for each layout (on top of the single-device estimate)
# ----------------------------------------------------------------------------------------------------------------

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
    from . import runtime

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


def run_fit(args) -> int:
    """``python -m course_lib fit``: print the estimate (and, with ``--measure``, a measured peak beside it)."""
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip()) if args.targets else None
    est = estimate(args.model, args.method, args.batch, args.seq, profile=args.profile, precision=args.precision,
                   lora_r=args.lora_r, targets=targets)
    print(est.explain())
    if args.measure:
        got = measure_peak(args.method, args.batch, args.seq, est.precision, model=args.model, lora_r=args.lora_r,
                           targets=targets)
        print(got)
        print(f"estimate / measured = {est.total / got.peak_bytes:.2f}")
    return 0
