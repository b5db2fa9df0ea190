"""A measured peak: real AdamW steps on random tokens, in this process or in a fresh one.
Taught in notebook 02 (the estimate against a measured peak) and used in 03."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..runtime import DEFAULT_DECODER
from .result import MIB


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
    import torch

    if method not in ("lora", "full"):
        raise ConfigError(f"measure_peak trains: method must be 'lora' or 'full', not {method!r}")
    base, net, weights = _model_to_measure(method, model, lora_r, targets, lora_dropout, device, seed)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    ids = torch.randint(3, base.config.vocab_size, (batch_size, seq_len), device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    times, peak = _timed_steps(net, optimizer, ids, dtype, device, steps)
    if device == "cuda":
        measured = peak.peak_bytes  # allocated tensors, weights included
    else:
        measured = peak.peak_bytes - peak.start_bytes + weights
    later = times[1:] or times
    return MeasuredPeak(method=method, precision=precision, batch_size=batch_size, seq_len=seq_len,
                        peak_bytes=int(measured), weights_bytes=int(weights),
                        seconds_per_step=sum(later) / len(later), kind=peak.kind)


def _model_to_measure(method, model, lora_r, targets, lora_dropout, device, seed):
    """``(base, net, weight bytes)``: a fresh copy of ``model`` in ordinary memory on ``device``, prepared for
    ``method`` as ``course_lib.train`` prepares it, in training mode."""
    import torch

    from .. import models, train

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
    return base, net, weights


def _timed_steps(net, optimizer, ids, dtype, device, steps):
    """``(seconds of each step, the PeakMemory)``: ``steps`` optimiser steps on ``ids`` inside
    ``train.PeakMemory``, under autocast to ``dtype`` when given."""
    import contextlib
    import gc
    import time

    import torch

    from .. import train

    times = []
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
    return times, peak


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
    root = str(Path(__file__).resolve().parents[2])  # the course checkout, importable in the child
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", _FRESH_SCRIPT, json.dumps(kwargs)], capture_output=True, text=True,
                         timeout=timeout, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"measuring {method} B={batch_size} L={seq_len} {precision} in a fresh process failed "
                           f"(exit {out.returncode}): {out.stderr[-1500:]}")
    return MeasuredPeak(**json.loads(lines[-1][len("RESULT"):]))
