"""The time model's speed: datasheet peaks for the GPU profiles, a matmul peak measured on the CPU.
Taught in notebook 02 (will it fit?)."""

from __future__ import annotations

DEFAULT_UTILISATION = 0.45  # achieved / matmul-peak FLOP/s of a small-model training step (see benchmarks/)
# Datasheet dense matmul peaks (FLOP/s) for the GPU profiles; the CPU peak is measured.
PROFILE_PEAK_FLOPS = {"t4": 65e12, "a100": 312e12}  # T4 fp16 tensor cores; A100 bf16 (L4/H100 differ)

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
