"""The machine: GPU capability, CPU features (native bf16), the training precision they allow, threads.

Each function takes the facts it needs as arguments (with defaults read from torch), so the tests can feed it a
mocked T4 or A100. torch is imported only inside functions.
Taught in notebook 00 (profiles, device and precision).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from ..errors import ConfigError

PRECISION_ENV = "COURSE_PRECISION"


def cuda_capability() -> tuple[int, int] | None:
    """Compute capability ``(major, minor)`` of GPU 0, or ``None`` without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_capability(0)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX on x86, BF16 on Arm).

    Without them PyTorch emulates bf16 on CPU, which is slower than fp32, so the answer gates autocast.
    """
    import torch

    mkldnn_check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if mkldnn_check is not None:
        try:
            return bool(mkldnn_check())
        except RuntimeError:  # op missing in this build
            pass
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16", " bf16"))


def bf16_matmul_is_faster(size: int = 512, repeats: int = 6) -> bool:
    """Measure one square matmul in fp32 and in bf16 on the CPU; True when bf16 is at least 10% faster.

    A supported instruction set is not enough: small shapes or old oneDNN builds can make bf16 slower. The
    measurement costs ~0.1 s.
    """
    import time

    import torch

    a = torch.randn(size, size)
    b = torch.randn(size, size)

    def best_time(x, y):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            x @ y
            best = min(best, time.perf_counter() - start)
        return best

    fp32 = best_time(a, b)
    bf16 = best_time(a.bfloat16(), b.bfloat16())
    return bf16 < 0.9 * fp32


def choose_precision(
    device: str,
    capability: tuple[int, int] | None = None,
    cpu_bf16: bool | None = None,
    requested: str = "auto",
) -> str:
    """Training precision, one of ``"fp32"``, ``"bf16"``, ``"fp16"``.

    Args:
        device: ``"cuda"`` or ``"cpu"``.
        capability: CUDA compute capability of the device (ignored on CPU).
        cpu_bf16: whether bf16 autocast is supported *and faster* on this CPU; measured when ``None``.
        requested: profile or ``$COURSE_PRECISION`` override; ``"auto"`` applies the rules below.
    """
    requested = os.environ.get(PRECISION_ENV, requested) or "auto"
    if requested not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"unknown precision {requested!r} — choose auto, fp32, bf16 or fp16")
    if device == "cuda":
        cap = capability or (0, 0)
        if requested == "bf16" and cap < (8, 0):
            # Below Ampere bf16 has no tensor-core support: torch may emulate it (slow) or refuse, and
            # `torch.cuda.is_bf16_supported()` can still say True on a T4, which is why the capability decides.
            raise ConfigError(
                f"bf16 was asked for on a GPU of compute capability {cap[0]}.{cap[1]} — bf16 needs 8.0 or newer; "
                "use fp16 (or precision 'auto')"
            )
        if requested != "auto":
            return requested
        # Capability >= 8.0 (A100, L4, H100): bf16 keeps fp32's exponent range, so no loss scaling is needed.
        # Below 8.0 (T4, V100): fp16 tensor cores with loss scaling; never bf16.
        return "bf16" if cap >= (8, 0) else "fp16"
    # CPU: fp16 matmuls are slow or unsupported on most CPUs, so it is never chosen automatically.
    if requested != "auto":
        if requested == "fp16":
            raise ConfigError("fp16 was asked for on the CPU — CPUs have no fast fp16 path; use bf16 or fp32")
        return requested
    if cpu_bf16 is None:
        cpu_bf16 = cpu_supports_bf16() and bf16_matmul_is_faster()
    # bf16 autocast only where the CPU runs it natively and it measured faster; otherwise fp32 (exact, portable).
    return "bf16" if cpu_bf16 else "fp32"


def default_threads() -> int:
    """Intra-op threads for torch: the CPUs this process may use (hyper-threads rarely help matmuls), shared
    evenly among the processes a launcher started on this machine (``LOCAL_WORLD_SIZE``, set by torchrun and
    accelerate launch) so that they do not oversubscribe the cores. An explicit ``OMP_NUM_THREADS`` wins."""
    requested = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        cpus = os.cpu_count() or 1
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cpus // max(1, local_processes))


def attention_implementation(device: str) -> str:
    """The attention kernel the course's decoders use: ``"eager"`` (plain matmuls) on the CPU, ``"sdpa"`` on a GPU.

    On the CPU the fused scaled-dot-product attention costs more than it saves at the course's sequence lengths
    (64-192 tokens): its backward pass was 19 % of a LoRA step on an AMX Xeon, for a sliver of the FLOPs. Measured
    with benchmarks/lora_step_ablation.py on 2 AMD EPYC cores (2026-12-02), the course's LoRA step with eager
    attention: 1.26x the useful tokens/s in bf16 (AVX512-BF16: 835 -> 1050; 1.18x in a rerun of 2026-12-03), 1.06x in
    fp32 (383 -> 407). On a CPU with AVX2 alone (fp32, 2 AMD EPYC cores, 2026-12-03) the two kernels tie: LoRA
    0.98-1.02x over two runs, full fine-tuning 0.99x (in bf16 SDPA led full fine-tuning by 1.09x over 4 steps, inside
    the noise of so short a run); eager stays the one CPU rule, because it wins where it matters and loses nothing
    measurable elsewhere. The MiniLM classifier keeps SDPA (see ``models.load_classifier``). On a GPU SDPA's fused
    kernels win and save memory, so it stays. Generation switches the decoder to SDPA while it runs, on the CPU too
    (``course_lib.generation.GENERATION_ATTENTION``): there eager attention copies the whole key/value cache at
    every new token.
    """
    return "sdpa" if device == "cuda" else "eager"


def frozen_weights_in_bf16(device: str, precision: str) -> bool:
    """Whether LoRA's training steps compute with bf16 roundings of the frozen linear weights (``train.frozen``).

    Under bf16 autocast every matmul already sees its weight rounded to bf16, but a frozen fp32 weight is rounded
    again at every forward pass (autocast caches only the casts of trainable weights), and that copy is kept for
    the backward pass: on 2 CPU cores a share of each step is memory traffic, not arithmetic. Rounding once per run
    gives the same matmuls (the same rounding) without the casts: 1.13-1.15x a LoRA step on a family-25 EPYC
    (2026-12-04), at the same loss. True on a CPU that trains in bf16
    (AVX512-BF16 or AMX), where it was measured (benchmarks/README.md); not on a GPU (not measured there) or in fp32
    (nothing is cast, and bf16 without native instructions is emulated).
    """
    return device == "cpu" and precision == "bf16"


# A C++ compiler that torch.compile's CPU backend (inductor) can call; without one it cannot build its kernels.
CPP_COMPILERS = ("g++", "c++", "clang++")
COMPILE_ENV = "COURSE_COMPILE"


def compiled_training_pays(device: str, precision: str, flags: list[str] | None = None) -> bool:
    """Whether the training steps run the decoder blocks through ``torch.compile`` (``train.compiled``).

    On a CPU with AMX the bf16 matmuls are fast enough that most of an eager LoRA step is the rest: norms, rotary
    embeddings, activations, dtype casts, each a separate pass over memory. Compiled (inductor), those fuse. Measured
    on 2 cores of an Intel Xeon with AMX-BF16 (2026-12-07, benchmarks/README.md): 1.3-1.4x the useful tokens/s of
    the eager step, for a compile of 40-60 s the first time on a machine and ~7 s once inductor's on-disk cache holds
    the blocks' kernels (``train.run`` compiles only runs long enough to repay it). Off with AVX512-BF16 but no
    AMX: there the bf16 matmuls are a third as fast and most of the step, and compiling measured 1.14x on a
    150-step run with a warm cache, but a whole ``make course`` from a cold one ran no faster than eager blocks
    (2-core EPYC, 2026-12-07, benchmarks/README.md). Off on fp32 CPUs (slower matmuls still; not measured) and on
    GPUs. Needs a C++ compiler (inductor builds its CPU kernels with one); ``COURSE_COMPILE=0``/``1`` overrides.
    ``flags``: the CPU's ``MATMUL_FLAGS`` (default: read from this machine).
    """
    import shutil

    if device != "cpu" or not any(shutil.which(compiler) for compiler in CPP_COMPILERS):
        return False
    forced = os.environ.get(COMPILE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    flags = cpu_features()["flags"] if flags is None else flags
    return precision == "bf16" and "amx_bf16" in flags


# The instruction-set flags that decide the CPU's matmul path: fp32 only (AVX2), AVX-512, bf16 dot products
# (AVX512-BF16) or bf16 matrix tiles (AMX, about three times AVX512-BF16's bf16 peak on 2 cores).
MATMUL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_features() -> dict:
    """``{"model": CPU model name, "flags": the MATMUL_FLAGS this CPU has}``, from /proc/cpuinfo (Linux).

    Recorded in every run's stamp and by the benchmarks, because a CPU time means little without them: the same
    notebook trains about twice as fast with AVX512-BF16 as with AVX2 alone. Elsewhere ``flags`` is empty.
    """
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    return {"model": _cpu_name(), "flags": [flag for flag in MATMUL_FLAGS if flag in flags]}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
