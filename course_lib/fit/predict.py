"""The estimate: predicted peak memory and time per optimiser step of training (or running) a model.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

from ..errors import ConfigError
from ..runtime import DEFAULT_DECODER
from .activations import activation_bytes, lora_targets
from .flops import DEFAULT_UTILISATION, PROFILE_PEAK_FLOPS, measure_matmul_peak
from .result import FitEstimate, PeakMoment
from .shape import model_shape

# Backward workspace + allocator slack as a share of the activations: (measured peak - modelled parts) / activations
# was 0.19-0.58 over LoRA/full x (B=2, L=64)/(B=8, L=128) in fp32 on the 2-core EPYC; 0.35 is the middle.
BACKWARD_SLACK = 0.35


def _precision_for(profile, precision):
    if precision is not None:
        if precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"unknown precision {precision!r} — use fp32, bf16 or fp16")
        return precision
    from .. import runtime

    prof = runtime.get_profile(profile) if isinstance(profile, str) else profile
    if prof.precision != "auto":
        return prof.precision
    # The same rules as runtime.choose_precision, without measuring: t4 -> fp16, a100 -> bf16, cpu -> bf16 when the
    # CPU has native bf16 instructions.
    return {"t4": "fp16", "a100": "bf16"}.get(prof.name) or ("bf16" if runtime.cpu_supports_bf16() else "fp32")


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
    attention_flops = 4 * seq_len * shape.hidden * shape.layers * tokens  # Q·K^T and scores·V, forward
    half = precision != "fp32"
    if method == "inference":
        parts, total, moment, flops = _inference_step(shape, tokens, half, attention_flops)
    else:
        activations = activation_bytes(shape, method, batch_size, seq_len, precision, targets, lora_r, lora_dropout)
        parts, total, moment, flops = _training_step(shape, method, tokens, half, trainable, lora_params, activations,
                                                     attention_flops, device)
    if flops_per_s is None:
        flops_per_s = _achieved_flops_per_s(device, prof_name, precision, utilisation)
    return FitEstimate(method=method, precision=precision, batch_size=int(batch_size), seq_len=int(seq_len),
                       trainable_params=int(trainable), total=int(total), peak_moment=moment,
                       flops_per_step=float(flops), flops_per_s=float(flops_per_s),
                       seconds_per_step=float(flops) / float(flops_per_s), **{k: int(x) for k, x in parts.items()})


def _inference_step(shape, tokens, half, attention_flops):
    """Memory parts, peak, peak moment and FLOPs of a forward pass only (weights in 2 B under half precision)."""
    h, v = shape.hidden, shape.vocab
    act_b = 2 if half else 4
    weights = shape.params * act_b
    activations = tokens * (4 * h + 2 * shape.intermediate) * act_b  # a few live tensors of one block
    logits = tokens * v * (act_b + 4)  # logits + an fp32 copy for sampling / the loss
    parts = dict(weights=weights, autocast_copies=0, gradients=0, optimizer=0, activations=activations,
                 logits=logits, workspace=0)
    total, moment = weights + activations + logits, PeakMoment.FORWARD_END
    flops = 2 * shape.matmul_params * tokens + attention_flops
    return parts, total, moment, flops


def _training_step(shape, method, tokens, half, trainable, lora_params, activations, attention_flops, device):
    """Memory parts, peak, peak moment and FLOPs of one AdamW step: the larger of the two moments of the
    package docstring (start of backward, optimiser step)."""
    h, v = shape.hidden, shape.vocab
    weights = shape.params * 4
    copies = shape.matmul_params * 2 if half else 0
    grads, opt = trainable * 4, trainable * 8
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
    return parts, total, moment, flops


def _achieved_flops_per_s(device, prof_name, precision, utilisation) -> float:
    """``utilisation`` x the datasheet peak (a GPU profile on CUDA) or x a matmul peak measured here."""
    if device == "cuda" and prof_name in PROFILE_PEAK_FLOPS:
        peak = PROFILE_PEAK_FLOPS[prof_name]
    else:
        peak = measure_matmul_peak("bf16" if precision == "bf16" else "fp32", device)
    return peak * utilisation
