"""The :class:`Runtime` object (profile, device, precision, seed, threads, stamp) and :func:`setup`, which builds it.

Every notebook starts with ``rt = runtime.setup(PROFILE, SEED)`` (notebook 00). :func:`setup` looks its helpers
up in this module's namespace, so a test that replaces one patches ``course_lib.runtime.session.<name>``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import RunDir
from .hardware import (PRECISION_ENV, _cpu_name, attention_implementation, choose_precision, compiled_training_pays,
                       cpu_features, cuda_capability, default_threads)
from .profiles import Profile, get_profile, resolve_profile
from .seeds import seed_everything
from .stamp import git_commit, package_versions


@dataclass
class Runtime:
    """What :func:`setup` decided. Pass it to loaders and trainers.

    Attributes:
        profile: the budget row in force.
        device: ``"cuda"`` or ``"cpu"``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` — compute precision for training (autocast / AMP);
            master weights stay fp32 so optimiser updates are not lost to rounding.
        seed: the seed everything was seeded with.
        threads: torch intra-op threads.
        hardware: human-readable CPU/GPU description.
        capability: CUDA compute capability or ``None``.
        colab: running inside Google Colab.
        attention: the decoders' attention kernel in training and scoring, ``"eager"`` on the CPU, ``"sdpa"`` on
            a GPU (:func:`course_lib.runtime.attention_implementation` says why); generation switches to SDPA
            while it runs (``course_lib.generation.GENERATION_ATTENTION``).
    """

    profile: Profile
    device: str
    precision: str
    seed: int
    threads: int
    hardware: str
    capability: tuple[int, int] | None = None
    colab: bool = False
    attention: str = "sdpa"
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def torch_dtype(self):
        """dtype for autocast regions (``torch.float32`` when no autocast)."""
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    def autocast(self):
        """Context manager running a block in the chosen precision (a no-op for fp32)."""
        import contextlib

        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device, dtype=self.torch_dtype)

    def summary(self) -> str:
        """One line: profile, device, precision, threads, seed, library versions."""
        v = package_versions(("torch", "transformers", "peft"))
        libs = " ".join(f"{k}={val}" for k, val in v.items() if val)
        return (f"profile={self.profile.name} device={self.device} ({self.hardware}) precision={self.precision} "
                f"threads={self.threads} seed={self.seed} | {libs}")

    def stamp(self) -> dict:
        """Everything needed to reproduce a run: versions, seed, profile, hardware, git commit, time."""
        return {
            "started": self.started,
            "profile": dataclasses.asdict(self.profile),
            "device": self.device,
            "precision": self.precision,
            "attention": self.attention,  # training's kernel; generation attends with SDPA (generation.py)
            # whether training runs of train.COMPILE_MIN_STEPS or more compile their decoder blocks on this machine
            # (what one run did is its metrics' "compiled_blocks")
            "compiles_long_training_runs": compiled_training_pays(self.device, self.precision),
            "seed": self.seed,
            "threads": self.threads,
            "hardware": self.hardware,
            "cpu": cpu_features(),
            "capability": list(self.capability) if self.capability else None,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": package_versions(),
            "git_commit": git_commit(),
        }

    def write_stamp(self, folder: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write ``stamp.json`` (plus ``extra`` keys, e.g. metrics) into ``folder``; return its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = RunDir(folder).stamp
        path.write_text(json.dumps({**self.stamp(), **(extra or {})}, indent=2, default=str), encoding="utf-8")
        return path


def setup(profile: str = "auto", seed: int = 0, threads: int | None = None, quiet: bool = False) -> Runtime:
    """Choose profile, device, precision and threads; seed everything; print one summary line.

    Args:
        profile: ``"auto"`` (``$COURSE_PROFILE``, else from the hardware) or a name from :data:`PROFILES`.
        seed: seed for Python, NumPy and torch.
        threads: torch intra-op threads (default: the CPUs available to this process).
        quiet: skip the summary line.
    """
    import torch

    from ..notebook import install_friendly_errors, show_figures_inline

    install_friendly_errors()  # in a notebook, course errors show as one line instead of a traceback
    show_figures_inline()  # and the course's figures as pictures, not "<Figure size ...>"
    # Fail on a bad profile name before any slow work.
    if str(profile).strip().lower() != "auto":
        get_profile(profile)
    capability = cuda_capability()
    chosen = resolve_profile(profile, capability)
    device = "cuda" if capability is not None else "cpu"
    # The smoke profile pins fp32 (see its row); other profiles decide from the hardware.
    precision = choose_precision(device, capability, requested=chosen.precision)
    threads = threads or default_threads()
    torch.set_num_threads(threads)
    seed_everything(seed)
    hardware = torch.cuda.get_device_name(0) if device == "cuda" else f"{_cpu_name()}, {threads} threads"
    rt = Runtime(profile=chosen, device=device, precision=precision, seed=seed, threads=threads, hardware=hardware,
                 capability=capability, colab="google.colab" in sys.modules,
                 attention=attention_implementation(device))
    if not quiet:
        print(rt.summary())
        note = slow_precision_note(rt)
        if note:
            print(note)
    return rt


def slow_precision_note(rt: Runtime) -> str | None:
    """A line for a learner whose CPU trains a real profile in fp32 because it has no native bf16; else ``None``.

    The cpu profile's budgets were chosen on CPUs with bf16 instructions; without them the same notebooks take
    2-3 times longer (notebook 03: 20.1 min against 8.4; run 20261203-102755), which a learner should know before
    starting a training cell. The smoke profile is fp32 everywhere by design, and fp32 asked for through
    ``$COURSE_PRECISION`` is a choice, so neither gets the note.
    """
    chosen_by_hardware = rt.profile.precision == "auto" and os.environ.get(PRECISION_ENV, "auto") in ("", "auto")
    if rt.device != "cpu" or rt.precision != "fp32" or not chosen_by_hardware:
        return None
    return ("Note: this CPU has no fast native bf16 (AVX512-BF16 or AMX), so training runs in fp32, 2-3x slower "
            "than the cpu times quoted for a bf16 CPU; each notebook's Time line also gives its fp32-only time. For "
            'a quick pass through every cell, set PROFILE = "smoke" in the parameters cell.')
