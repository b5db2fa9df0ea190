"""Where the course runs: profile, device, precision, threads, seeds and the reproducibility stamp.

Every notebook starts with ``rt = runtime.setup(PROFILE, SEED)``. The returned :class:`Runtime` carries the chosen
:class:`Profile` (all budgets: steps, batch sizes, sequence lengths) so no notebook hard-codes one, plus the device
and precision every later step uses.

This module imports torch only inside functions, so the command-line tools can read the profile table quickly.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

# The decoder the lessons fine-tune unless a profile or a caller names another (a name in models.REGISTRY).
DEFAULT_DECODER = "smollm2-135m-instruct"

PROFILE_ENV = "COURSE_PROFILE"
PRECISION_ENV = "COURSE_PRECISION"


@dataclass(frozen=True)
class Profile:
    """One row of the budget table. Tune these with measurements, never in a notebook.

    Data and sequence budget:
        max_seq_len: longest training/eval sequence in tokens; longer examples are truncated.
        train_examples: how many training examples to use (``None`` = all).
        eval_examples: how many validation/test examples to score (``None`` = all).

    Optimisation budget (Hugging Face ``TrainingArguments`` names where one exists):
        epochs: passes over the (possibly subsampled) training set.
        max_steps: hard cap on optimiser steps; ``-1`` means no cap (epochs decide).
        batch_size: examples per device per forward pass.
        grad_accum: forward passes per optimiser step (effective batch = batch_size * grad_accum * processes).
        learning_rate: peak learning rate for LoRA adapters.
        full_learning_rate: peak learning rate for full fine-tuning (all weights move, so much smaller).
        full_max_steps: optimiser steps of full fine-tuning when they must be fewer than LoRA's (``None``: the same
            budget as LoRA). A full step costs about twice a LoRA step on a CPU (every weight gets a gradient and
            two AdamW states; no blocks are skipped), so the cpu profile measures full fine-tuning's cost on a
            short run instead of matching LoRA's epochs.
        warmup_ratio: fraction of steps with a linear learning-rate warm-up.
        weight_decay: decoupled weight decay of AdamW.
        eval_steps / save_steps / logging_steps: how often to evaluate, checkpoint and log, in optimiser steps.

    LoRA:
        lora_r / lora_alpha / lora_dropout: rank, scale numerator and dropout of the adapters.
        lora_block_share: share of the transformer blocks, from the top, that get adapters (1.0: all); the
            backward pass then stops at the lowest adapted block (see ``train.TrainConfig.lora_block_share``).

    Generation and models:
        max_new_tokens: generation budget per answer, in tokens.
        inference_batch_size: prompts (or texts) per batched generation / perplexity call. No gradients or
            optimizer state are kept, so it can be far larger than the training batch, and larger batches use the
            cores better (measured on 2 CPU cores, 60 answers of 48 tokens: 42 s at 8, 28 s at 16, 21 s at 30).
        decoder: registry name of the causal LM the notebooks fine-tune.

    Evaluation and tuning lessons (04, 05):
        probe_examples: reviews per split for the MiniLM sentiment classifier (``None`` = all).
        overfit_examples / overfit_epochs: training examples and epochs of lesson 05's deliberately overfitting
            LoRA run (little data, many epochs); every fix is compared with it.
        overfit_learning_rate: that run's (high) learning rate; ``None``: three times ``learning_rate``.
        search_trials: trials per Optuna sampler (grid and random) in lesson 05's hyperparameter search.
        fix_seeds: training seeds each of lesson 05's runs (base, fixes, underfit) is repeated with, so that a fix
            is called helpful only when its interval over the seed-paired differences excludes 0. Three is the
            fewest that give a spread; smoke uses two (the same code path, a wider interval).

    Behaviour task and encoder classifier (lesson 03):
        triage_steps / triage_learning_rate: optimiser steps and peak learning rate of the LoRA run that teaches
            the JSON triage format (``course_lib.triage``). The rate is higher than the answer task's in smoke, so
            that its dozen steps teach the format (measured: 12 steps at 5e-4 leave the plan field at 3 of 8).
        classifier_epochs / classifier_learning_rate: passes over the review texts and peak learning rate of the
            MiniLM classifier (``train.train_classifier``); every weight trains, the head from scratch.

    Continuous learning (lesson 07, ``python -m course_lib retrain``):
        retrain_steps: optimiser steps of one retraining run on new data (+ replay); the same with and without
            replay, so their forgetting is compared at equal cost.

    Learning from feedback (lesson 08, ``train.train_dpo``):
        preference_questions: training questions the SFT model answers twice (sampled) to make preference pairs;
            pairs the rule cannot decide are left out, so fewer pairs than questions reach DPO.
        preference_temperature: sampling temperature of those two answers (higher: more different answers,
            more pairs the rule can decide, but more nonsense).
        dpo_steps / dpo_batch_size / dpo_learning_rate: optimiser steps, pairs per step and (constant) learning
            rate of the DPO adapter; the SFT-on-chosen comparison run gets the same steps, batch and rate.
        dpo_beta: DPO's beta (the weight of the log-ratio margin; larger keeps the model nearer the reference).
        dpo_beta_tradeoff: the second beta the lesson trains with, to show how far each moves from the reference.
    The Hugging Face stack (appendix notebook 09):
        trl_steps: optimiser steps of the LoRA run that notebook 09 makes twice, through the course's trainer and
            through TRL's ``SFTTrainer`` (``train.trl_sft``), evaluated at step 0 and three times after. Fewer
            than a full lesson-03 run: the notebook compares two curves, it does not need a finished model.

    Precision:
        precision: ``"auto"`` lets :func:`choose_precision` decide from the hardware, or force
            ``"fp32"``/``"bf16"``/``"fp16"``.
    """

    name: str
    description: str
    max_seq_len: int
    train_examples: int | None
    eval_examples: int | None
    epochs: float
    max_steps: int
    batch_size: int
    grad_accum: int
    learning_rate: float
    full_learning_rate: float
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    eval_steps: int = 20
    save_steps: int = 50
    logging_steps: int = 5
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_block_share: float = 1.0
    max_new_tokens: int = 48
    inference_batch_size: int = 32
    decoder: str = DEFAULT_DECODER
    precision: str = "auto"
    probe_examples: int | None = None
    overfit_examples: int = 16
    overfit_epochs: int = 6
    overfit_learning_rate: float | None = None
    search_trials: int = 4
    fix_seeds: int = 3
    triage_steps: int = 40
    triage_learning_rate: float = 2e-3
    full_max_steps: int | None = None
    classifier_epochs: float = 1
    classifier_learning_rate: float = 1e-4
    retrain_steps: int = 32
    trl_steps: int = 60
    preference_questions: int = 200
    preference_temperature: float = 0.8
    dpo_steps: int = 100
    dpo_batch_size: int = 8
    dpo_learning_rate: float = 1e-4
    dpo_beta: float = 0.1
    dpo_beta_tradeoff: float = 1.0


# The one profile table. Budgets are measured guides (see README "Measured on this machine").
PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tests/CI: real model, a handful of steps, seq <= 64, fp32",
        max_seq_len=64, train_examples=32, eval_examples=8, epochs=1, max_steps=4, batch_size=4, grad_accum=1,
        learning_rate=5e-4, full_learning_rate=5e-5, eval_steps=2, save_steps=2, logging_steps=1,
        max_new_tokens=12, probe_examples=64, overfit_examples=2, overfit_epochs=4, search_trials=1, fix_seeds=2,
        # Measured (2 examples, 4 epochs, top half of the blocks, seeds 0 and 1): at 1.5e-3 the validation loss
        # turns up only in the last epoch, so early stopping has nothing to stop; at 6e-3 it does after 2-3 epochs.
        overfit_learning_rate=6e-3,
        retrain_steps=4, triage_steps=12, lora_dropout=0.0, lora_block_share=0.5,  # as cpu: the same path, half the cost
        trl_steps=4,
        # Lesson 08: 8 questions x 2 sampled answers of 12 tokens, 2 steps of 2 pairs per run (three runs): a DPO
        # step scores 4 answers with the adapter and 4 without, about 4x a smoke SFT step.
        preference_questions=8, dpo_steps=2, dpo_batch_size=2, dpo_learning_rate=1e-3,
        # fp32 in tests: the same numbers on every CPU, so golden values and resume comparisons are exact.
        precision="fp32",
    ),
    "cpu": Profile(
        name="cpu",
        description="a laptop without a GPU: minutes per notebook, a visible gain",
        # Chosen by measurement (benchmarks/dose_response.py, 2 cores): one pass over 400 pairs at 1e-3 left the
        # support task's keyword match at 0.11-0.19; two passes over all 532 at 2e-3 reach 0.46. Adapters on the
        # top 15 of 30 blocks and no LoRA dropout make a step 1.9x cheaper (7.8 -> 4.2 s, fp32; dropout 0 alone
        # 1.17x: the dropped-out copy of every adapter input is gone).
        max_seq_len=192, train_examples=None, eval_examples=60, epochs=2, max_steps=-1, batch_size=8, grad_accum=1,
        # Validation at steps 45 and 90 and after the last (134), plus before step 1: each pass ~17 s, four steps.
        learning_rate=2e-3, full_learning_rate=5e-5, eval_steps=45, save_steps=45, logging_steps=5,
        # 4 full steps measure a full step's time and memory (a cost run, see full_max_steps): 8 took 85 s
        # (2026-12-01, fp32, with two validation passes) to show the same per-step cost and peak.
        max_new_tokens=48, lora_dropout=0.0, lora_block_share=0.5, triage_steps=30, full_max_steps=4,
        # The MiniLM classifier: one pass over all 840 reviews at 2e-4 reaches macro-F1 1.00 on the 60 test
        # reviews in 48 s (400 reviews at 1e-4: 0.58, below prompting).
        classifier_epochs=1, classifier_learning_rate=2e-4,
        # Lesson 05 trains every run with 3 seeds, so one run must be short. Measured on 2 AVX2 cores (fp32):
        # 8 examples x 4 epochs at 6e-3 on the top half of the blocks take 50 s with 16 validation questions and
        # still overfit (validation loss 3.38 -> 2.89 after epoch 1, then up to 4.02); 16 x 6 on every block took
        # 156 s, half of it evaluation.
        overfit_examples=8, overfit_epochs=4, overfit_learning_rate=6e-3, search_trials=2, fix_seeds=3,
        # Notebook 09 trains twice: 8 steps (~4.2 s each on the course's path) and 4 evaluations of 60 answers
        # (~17 s each) per path. Not timed on an idle machine yet: on 2 cores shared with other jobs (load ~5) the
        # course's run took 385 s, TRL's 462 s and the notebook 17.6 min, so idle it should be well under that.
        trl_steps=8,
        # Lesson 08 (not yet timed in a kept run): 96 questions x 2 sampled answers, then three runs of 24 steps x
        # 4 pairs (DPO at two betas, SFT on the chosen answers), inside the 10 minutes with 03's adapter reused.
        preference_questions=96, dpo_steps=24, dpo_batch_size=4, dpo_learning_rate=5e-4,
    ),
    "t4": Profile(
        name="t4",
        description="Colab free tier (compute capability < 8.0): longer runs, fp16",
        max_seq_len=384, train_examples=None, eval_examples=150, epochs=3, max_steps=-1, batch_size=16, grad_accum=1,
        learning_rate=5e-4, full_learning_rate=3e-5, eval_steps=25, save_steps=100, logging_steps=10,
        max_new_tokens=64,
    ),
    "a100": Profile(
        name="a100",
        description="capability >= 8.0 (A100/L4/H100): bf16, biggest budgets",
        max_seq_len=512, train_examples=None, eval_examples=None, epochs=3, max_steps=-1, batch_size=32,
        grad_accum=1, learning_rate=5e-4, full_learning_rate=3e-5, eval_steps=25, save_steps=100,
        logging_steps=10, max_new_tokens=64,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (case-insensitive); raise :class:`ConfigError` listing the choices."""
    key = str(name).strip().lower()
    if key not in PROFILES:
        choices = ", ".join(["auto", *PROFILES])
        raise ConfigError(f"unknown profile {name!r} — choose one of: {choices}")
    return PROFILES[key]


# ----------------------------------------------------------------------------------------------------------------
# Hardware detection. Each function takes the facts it needs as arguments (with defaults read from torch), so the
# tests can feed it a mocked T4 or A100.
# ----------------------------------------------------------------------------------------------------------------

def cuda_capability() -> tuple[int, int] | None:
    """Compute capability ``(major, minor)`` of GPU 0, or ``None`` without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_capability(0)


def auto_profile_name(capability: tuple[int, int] | None) -> str:
    """Profile for the hardware: no GPU → ``cpu``; capability < 8.0 (T4, V100) → ``t4``; else ``a100``."""
    if capability is None:
        return "cpu"
    return "t4" if capability < (8, 0) else "a100"


def resolve_profile(requested: str = "auto", capability: tuple[int, int] | None = None) -> Profile:
    """Pick the profile: an explicit name wins; ``"auto"`` defers to ``$COURSE_PROFILE``, then to the hardware."""
    name = (requested or "auto").strip().lower()
    if name == "auto":
        name = os.environ.get(PROFILE_ENV, "").strip().lower() or auto_profile_name(capability)
    return get_profile(name)


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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a rerun gives the same numbers."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


# ----------------------------------------------------------------------------------------------------------------
# The runtime object and its stamp
# ----------------------------------------------------------------------------------------------------------------

_STAMP_PACKAGES = ("torch", "transformers", "peft", "datasets", "accelerate", "sentence-transformers", "numpy")


def package_versions(names=_STAMP_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution name (``None`` when absent), read without importing it."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(repo: Path | None = None) -> str | None:
    """The course checkout's commit hash (with ``+dirty`` when files changed), or ``None`` outside git."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


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
    """

    profile: Profile
    device: str
    precision: str
    seed: int
    threads: int
    hardware: str
    capability: tuple[int, int] | None = None
    colab: bool = False
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
            "seed": self.seed,
            "threads": self.threads,
            "hardware": self.hardware,
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
        path = folder / "stamp.json"
        path.write_text(json.dumps({**self.stamp(), **(extra or {})}, indent=2, default=str), encoding="utf-8")
        return path


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def setup(profile: str = "auto", seed: int = 0, threads: int | None = None, quiet: bool = False) -> Runtime:
    """Choose profile, device, precision and threads; seed everything; print one summary line.

    Args:
        profile: ``"auto"`` (``$COURSE_PROFILE``, else from the hardware) or a name from :data:`PROFILES`.
        seed: seed for Python, NumPy and torch.
        threads: torch intra-op threads (default: the CPUs available to this process).
        quiet: skip the summary line.
    """
    import torch

    from .notebook import install_friendly_errors, show_figures_inline

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
                 capability=capability, colab="google.colab" in sys.modules)
    if not quiet:
        print(rt.summary())
    return rt
