"""Fine-tuning with the Hugging Face Trainer: LoRA or full, from the profile's budget, resumable, checked.

One function, :func:`train`, does what every training notebook and ``python -m course_lib train`` need::

    records --tokenize_dataset--> features --(pack?)--> Trainer(model with LoRA adapters or all weights trainable)
            --> checkpoints every N steps --> final adapter/model, history, metrics.json, stamp.json

What it adds to a bare ``Trainer``:

* **Budgets from the profile** (:func:`training_arguments`): epochs/max steps, batch and gradient accumulation,
  learning rate (a separate, smaller one for full fine-tuning), warm-up, weight decay, eval/save/logging steps,
  precision from the runtime, the optimiser (``paged_adamw_32bit`` only with bitsandbytes on CUDA).
* **Response-only loss** through :mod:`course_lib.formatting` (labels -100 on the prompt, EOS trained).
* **Callbacks**: a live loss/eval curve (a figure updating in Jupyter, one text line per log headless) and
  throughput (useful = non-padding tokens/s vs computed = padded tokens/s); early stopping on request.
* **Crash safety**: a checkpoint every ``save_steps``; a checkpoint counts only once a completion marker is
  written after it is fully saved, and ``resume=True`` continues from the newest complete one.
* **Loud failures** (:class:`TrainingFailed`): a NaN/inf loss stops training at that step; if no trainable weight
  changed, the run is reported as failed instead of "finished".
* **Measurements** in :class:`TrainResult`: trainable parameters, peak memory, seconds, tokens/s, losses, paths.

Multi-process runs (``accelerate launch``): every rank trains; only the main process
(``trainer.is_world_process_zero()``) prints curves and writes the final model, metrics and stamp.

torch, transformers and peft are imported inside functions, so ``import course_lib.train`` stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, CourseError, DataError
from .files import replace_folder, staging_path, write_json_atomic

COMPLETE_MARKER = "COURSE_CHECKPOINT_COMPLETE"
CHECKPOINT_DIR = "checkpoints"
# LoRA on every linear layer of the Llama blocks (attention and MLP), not the embeddings or the LM head: adapting
# the MLPs too helps quality noticeably at rank 8, and SmolLM2-135M still trains ~1.8% of its weights.
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainingFailed(CourseError):
    """Training ran but its result cannot be trusted: NaN/inf loss, or the trainable weights never changed."""


# ----------------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class TrainConfig:
    """What to train and how. ``None`` means "take it from the runtime's profile" (see :meth:`resolve`).

    Method:
        method: ``"lora"`` (small adapter matrices next to frozen weights) or ``"full"`` (every weight trains).
        lora_r / lora_alpha / lora_dropout: adapter rank, scale numerator (the update is scaled by alpha / r) and
            dropout on the adapter input.
        target_modules: names of the linear layers that get adapters.
        lora_block_share: the share of the transformer blocks, counted from the top, that get adapters (``1.0``:
            every block; ``None``: the profile's). Autograd then stops at the lowest adapted block, so the backward
            pass skips the blocks below: with the top half of SmolLM2's 30 blocks a step costs about half
            (benchmarks/README.md).

    Data:
        max_seq_len: longest sequence in tokens (answers are cut beyond it, see ``formatting.tokenize_example``).
        train_examples / eval_examples: subsample sizes (``None`` in the profile = all).
        system_prompt: system message for every example (``None``: the chat template's default).
        packing: several examples per row without cross-attention (``formatting.pack_examples``); otherwise
            dynamic padding with length-grouped batches.

    Optimisation (Hugging Face names): epochs, max_steps (-1 = epochs decide), batch_size, grad_accum,
        eval_batch_size (examples per evaluation forward pass; ``None``: batch_size — evaluation keeps no
        gradients or optimizer state, so a larger one usually fits and runs faster),
        learning_rate (``None``: the profile's LoRA or full rate, by method), warmup_ratio, weight_decay,
        lr_scheduler ("cosine", "linear", "constant", ...), max_grad_norm.

    Bookkeeping: eval_steps / save_steps / logging_steps (optimiser steps), save_total_limit (checkpoints kept),
        early_stopping_patience (stop after this many evaluations without a lower eval loss; ``None`` = off),
        save_final (write the final adapter/model folder), live (``"auto"``: figure in Jupyter, text elsewhere;
        ``"text"``, ``"plot"`` or ``"off"``), eval_at_start (measure the eval loss before the first step,
        ``metrics["eval_loss_start"]``; runs that share their base model and eval set can measure it once).
    """

    method: str = "lora"
    lora_r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    target_modules: tuple = DEFAULT_TARGET_MODULES
    lora_block_share: float | None = None
    max_seq_len: int | None = None
    train_examples: int | None = None
    eval_examples: int | None = None
    system_prompt: str | None = None
    packing: bool = False
    epochs: float | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    eval_batch_size: int | None = None
    learning_rate: float | None = None
    warmup_ratio: float | None = None
    weight_decay: float | None = None
    lr_scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    eval_steps: int | None = None
    save_steps: int | None = None
    logging_steps: int | None = None
    save_total_limit: int = 2
    early_stopping_patience: int | None = None
    save_final: bool = True
    live: str = "auto"
    eval_at_start: bool = True

    def resolve(self, profile) -> "TrainConfig":
        """A copy with every ``None`` filled from ``profile`` (a :class:`course_lib.runtime.Profile`), validated."""
        if self.method not in ("lora", "full"):
            raise ConfigError(f"unknown training method {self.method!r} — use 'lora' or 'full'")
        if self.live not in ("auto", "text", "plot", "off"):
            raise ConfigError(f"unknown live display {self.live!r} — use 'auto', 'text', 'plot' or 'off'")
        defaults = {
            "lora_r": profile.lora_r, "lora_alpha": profile.lora_alpha, "lora_dropout": profile.lora_dropout,
            "lora_block_share": profile.lora_block_share,
            "max_seq_len": profile.max_seq_len, "train_examples": profile.train_examples,
            "eval_examples": profile.eval_examples, "epochs": profile.epochs, "max_steps": profile.max_steps,
            "batch_size": profile.batch_size, "grad_accum": profile.grad_accum,
            "learning_rate": profile.learning_rate if self.method == "lora" else profile.full_learning_rate,
            "warmup_ratio": profile.warmup_ratio, "weight_decay": profile.weight_decay,
            "eval_steps": profile.eval_steps, "save_steps": profile.save_steps,
            "logging_steps": profile.logging_steps,
        }
        if self.method == "full" and profile.full_max_steps is not None:
            defaults["max_steps"] = profile.full_max_steps  # a full step costs ~2x LoRA's (see Profile)
        filled = dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})
        filled.target_modules = tuple(filled.target_modules)
        for name in ("batch_size", "grad_accum", "max_seq_len", "eval_steps", "save_steps", "logging_steps"):
            if int(getattr(filled, name)) < 1:
                raise ConfigError(f"{name}={getattr(filled, name)} must be at least 1 — fix the TrainConfig or profile")
        if filled.learning_rate < 0:
            raise ConfigError(f"learning_rate={filled.learning_rate} is negative — use a positive rate like 2e-4")
        if filled.early_stopping_patience is not None and filled.save_steps % filled.eval_steps:
            raise ConfigError(f"early stopping needs save_steps ({filled.save_steps}) to be a multiple of eval_steps "
                              f"({filled.eval_steps}) so the best checkpoint exists — change one of them")
        return filled

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def choose_optimizer(device: str) -> str:
    """``paged_adamw_32bit`` on CUDA with bitsandbytes installed (optimiser states page out to CPU memory instead of
    crashing on a memory spike), else PyTorch's ``adamw_torch`` (bitsandbytes' paged optimisers need CUDA)."""
    import importlib.util

    if device == "cuda" and importlib.util.find_spec("bitsandbytes") is not None:
        return "paged_adamw_32bit"
    return "adamw_torch"


def training_arguments(config: TrainConfig, runtime, output_dir, has_eval: bool = True):
    """``TrainingArguments`` for a resolved ``config`` on ``runtime``; checkpoints go to ``output_dir``."""
    from transformers import TrainingArguments

    patience = config.early_stopping_patience is not None and has_eval
    # A fraction < 1 is a share of the total steps, which transformers rounds *up*: a run of a few steps would
    # spend its first step at learning rate 0 (a 1-step run would change nothing). With a known step count, round
    # down instead (4 steps x 0.05 -> no warm-up).
    warmup = config.warmup_ratio
    if config.max_steps > 0 and 0 < warmup < 1:
        warmup = int(warmup * config.max_steps)
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size or config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=warmup,  # a float < 1 is a fraction of the total steps in transformers 5, an int a count
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        optim=choose_optimizer(runtime.device),
        # Precision from the runtime: weights stay fp32 (master copy), the forward/backward runs under autocast.
        # bf16 on CPUs with native support and GPUs >= 8.0; fp16 with loss scaling on older GPUs (T4); else fp32.
        bf16=runtime.precision == "bf16",
        fp16=runtime.precision == "fp16",
        use_cpu=runtime.device == "cpu",
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=patience,
        metric_for_best_model="eval_loss" if patience else None,
        greater_is_better=False if patience else None,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        # Keep NaN/inf in the logged loss: the default filter replaces them with an average, hiding a diverged run.
        logging_nan_inf_filter=False,
        seed=runtime.seed,
        data_seed=runtime.seed,
        # Packed rows are all about max_seq_len long; otherwise group similar lengths to cut padding.
        train_sampling_strategy="random" if config.packing else "group_by_length",
        remove_unused_columns=False,
        dataloader_num_workers=0,  # in-process: deterministic, and the token counters see every batch
        report_to="none",
        disable_tqdm=True,  # the live-curve callback reports progress
    )


# ----------------------------------------------------------------------------------------------------------------
# Measurements: peak memory, throughput
# ----------------------------------------------------------------------------------------------------------------

class PeakMemory:
    """Context manager measuring peak memory of a block.

    * CUDA: ``torch.cuda.max_memory_allocated`` (tensors only, not the allocator's cache), reset on entry.
    * CPU on Linux: the process's peak resident set (``VmHWM``), reset on entry through ``/proc/self/clear_refs``.
    * Elsewhere: the largest RSS seen by a thread sampling ``psutil`` every 20 ms (may miss short spikes).

    Attributes after the block: ``peak_bytes``, ``start_bytes`` (RSS or allocated at entry), ``kind``.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.peak_bytes = 0
        self.start_bytes = 0
        self.kind = ""
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def _rss() -> int:
        import psutil

        return psutil.Process().memory_info().rss

    @staticmethod
    def _vmhwm() -> int:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise OSError("no VmHWM line in /proc/self/status")

    def __enter__(self):
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
            self.kind = "CUDA allocated (peak)"
            return self
        self.start_bytes = self._rss()
        try:
            Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # "5" resets the peak RSS (VmHWM)
            self._vmhwm()
            self.kind = "process RSS (peak, VmHWM)"
        except OSError:
            self.kind = "process RSS (peak, sampled)"
            self.peak_bytes = self.start_bytes
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    def __exit__(self, *exc):
        if self.device == "cuda":
            import torch

            self.peak_bytes = torch.cuda.max_memory_allocated()
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._rss())
        else:
            self.peak_bytes = self._vmhwm()
        return False


@dataclass
class Throughput:
    """Token counters shared by the trainer (counts) and a callback (time).

    useful: non-padding tokens processed in training steps; computed: all positions (batch x padded length);
    busy_s: seconds inside optimiser steps (forward, backward, optimiser update; evaluation and saving excluded).
    """

    pad_token_id: int
    useful: int = 0
    computed: int = 0
    busy_s: float = 0.0
    _window: list = field(default_factory=lambda: [0, 0, 0.0])  # since the last log: useful, computed, seconds

    def add_batch(self, batch: dict) -> None:
        from .formatting import count_tokens

        useful, computed = count_tokens(batch, self.pad_token_id)
        self.useful += useful
        self.computed += computed
        self._window[0] += useful
        self._window[1] += computed

    def add_time(self, seconds: float) -> None:
        self.busy_s += seconds
        self._window[2] += seconds

    def take_window(self) -> dict:
        """Tokens/s since the previous call (for a log line), then reset the window."""
        useful, computed, seconds = self._window
        self._window = [0, 0, 0.0]
        if seconds <= 0:
            return {}
        return {"useful_tokens_per_s": useful / seconds, "computed_tokens_per_s": computed / seconds}

    @property
    def useful_per_s(self) -> float:
        return self.useful / self.busy_s if self.busy_s else 0.0

    @property
    def computed_per_s(self) -> float:
        return self.computed / self.busy_s if self.busy_s else 0.0


# ----------------------------------------------------------------------------------------------------------------
# Trainer subclass and callbacks
# ----------------------------------------------------------------------------------------------------------------

# Causal LMs whose forward computes logits as lm_head(last hidden state) and nothing else (the course's SmolLM2 is
# a Llama); others keep the Trainer's default loss.
PLAIN_HEAD_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")


def labelled_positions_loss(hidden, head, labels):
    """Summed next-token cross-entropy over the positions that have a label, and how many there are.

    ``hidden``: (batch, seq, hidden) last hidden states; ``head``: the output projection (hidden -> vocab);
    ``labels``: (batch, seq) token ids, -100 where no loss is taken (prompt, padding). Position ``t`` predicts
    label ``t + 1``. Only the labelled positions go through the head: with response-only labels most positions
    are prompt, and the head is one of the largest matmuls per token (576 x 49,152 for SmolLM2, 21 % of its
    matmul FLOPs). Returns (sum in nats as a 0-dim fp32 tensor, count as a 0-dim int tensor); the sum equals the
    model's own loss x count up to float rounding.
    """
    import torch

    targets = labels[:, 1:]
    keep = targets != -100
    logits = head(hidden[:, :-1][keep])  # (labelled positions, vocab)
    # fp32 for the softmax: in bf16 the log-sum-exp over 49k logits loses the small differences the loss is made of.
    summed = torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")
    return summed, keep.sum()


def _causal_lm_parts(model, inputs, trainer):
    """(decoder body, output head) when the loss can be taken on labelled positions only, else ``None``.

    Only for a single-process run of a causal language model with labels and the Trainer's default loss: under
    DDP/FSDP the forward must go through the wrapper (it synchronises gradients and gathers shards), and label
    smoothing or a custom ``compute_loss_func`` need the full outputs.
    """
    if (trainer.args.world_size != 1 or trainer.label_smoother is not None or trainer.compute_loss_func is not None
            or "labels" not in inputs or inputs["labels"].dim() != 2):
        return None
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    get_decoder, get_head = getattr(base, "get_decoder", None), getattr(base, "get_output_embeddings", None)
    # Only architectures whose logits are exactly head(last hidden state), with no scaling or soft-capping after.
    if getattr(base.config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES or get_decoder is None or get_head is None:
        return None
    body, head = get_decoder(), get_head()
    if body is None or head is None or body is base:
        return None
    return body, head


def _make_trainer_class():
    """Build the Trainer subclass lazily (transformers is imported only when training)."""
    import torch
    from transformers import Trainer

    from .distributed import MultiProcessTrainerMixin

    class CourseTrainer(MultiProcessTrainerMixin, Trainer):  # mixin: same batches and synced grads on N processes
        """A ``Trainer`` that counts tokens, stops on a non-finite loss and adds tokens/s to the logs.

        Its training and evaluation losses put only the labelled positions through the output head
        (:func:`labelled_positions_loss`; the same value as the model's own loss, less compute).
        """

        throughput: Throughput | None = None

        def training_step(self, model, inputs, num_items_in_batch=None):
            if self.throughput is not None:
                self.throughput.add_batch(inputs)
            loss = super().training_step(model, inputs, num_items_in_batch)
            if not torch.isfinite(loss).all():
                raise TrainingFailed(
                    f"the training loss became {float(loss)} at step {self.state.global_step + 1} — lower the "
                    "learning rate, check the data for empty answers, or use fp32 (COURSE_PRECISION=fp32)")
            return loss

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            parts = None if return_outputs else _causal_lm_parts(model, inputs, self)
            if parts is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            body, head = parts
            # accelerate applies mixed-precision autocast by wrapping the *top* model's forward; calling the
            # decoder body directly skips that wrapper, so the same autocast is entered here.
            with self.accelerator.autocast():
                hidden = body(**{k: v for k, v in inputs.items() if k != "labels"}).last_hidden_state
                summed, count = labelled_positions_loss(hidden, head, inputs["labels"])
            # The same reduction as the model's own loss: over the whole accumulated batch when the Trainer
            # passes its token count (gradient accumulation), else the mean over this batch.
            if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
                return summed / num_items_in_batch
            return summed / count.clamp(min=1)

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            # Evaluation needs only the loss (the course passes no compute_metrics): take it on the labelled
            # positions, as in training, instead of computing and discarding logits for every position.
            parts = _causal_lm_parts(model, inputs, self) if prediction_loss_only else None
            if parts is None:
                return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                loss = self.compute_loss(model, inputs)
            return loss.detach(), None, None

        def log(self, logs, start_time=None):
            if self.throughput is not None and "loss" in logs:
                logs.update({k: round(v, 1) for k, v in self.throughput.take_window().items()})
            super().log(logs, start_time)

    return CourseTrainer


def _callbacks_module():
    from transformers import TrainerCallback

    from .distributed import wait_for_everyone

    class StepTimer(TrainerCallback):
        """Time spent inside optimiser steps, into a :class:`Throughput`."""

        def __init__(self, throughput: Throughput):
            self.throughput = throughput
            self._start = None

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self._start is not None:
                self.throughput.add_time(time.perf_counter() - self._start)
                self._start = None

    class CheckpointMarker(TrainerCallback):
        """Write :data:`COMPLETE_MARKER` into a checkpoint once the Trainer has finished saving it."""

        def on_save(self, args, state, control, **kwargs):
            wait_for_everyone()  # several processes: each rank's rng_state_<rank>.pth is written before the marker
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if folder.is_dir():
                    (folder / COMPLETE_MARKER).write_text(f"step {state.global_step}\n", encoding="utf-8")

    class LiveCurve(TrainerCallback):
        """Live training feedback: an updating loss figure in Jupyter, one text line per log otherwise.

        ``mode``: ``"auto"`` (figure inside a Jupyter kernel, text elsewhere), ``"plot"``, ``"text"`` or ``"off"``.
        The figure is redrawn at most every ``min_interval`` seconds (drawing costs ~0.1 s) and at the end.
        """

        def __init__(self, mode: str = "auto", min_interval: float = 3.0, title: str = "training"):
            self.mode = mode
            self.min_interval = min_interval
            self.title = title
            self._handle = None
            self._last_draw = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                self.mode = "off"
            elif self.mode == "auto":
                self.mode = "plot" if _in_jupyter_kernel() else "text"

        def _draw(self, state):
            from IPython.display import Image, display

            from .plotting import figure_png, loss_curves

            fig = loss_curves(state.log_history, title=f"{self.title}: step {state.global_step}/{state.max_steps}")
            png = figure_png(fig)
            if self._handle is None:
                self._handle = display(Image(data=png), display_id=True)
            else:
                self._handle.update(Image(data=png))
            self._last_draw = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if not state.is_world_process_zero:  # also before on_train_begin (the starting evaluation)
                return
            if self.mode == "text":
                parts = [f"step {state.global_step}/{state.max_steps}"]
                for key, label in (("loss", "loss"), ("eval_loss", "eval_loss"), ("learning_rate", "lr"),
                                   ("useful_tokens_per_s", "tok/s"), ("grad_norm", "grad_norm")):
                    if key in logs:
                        value = logs[key]
                        parts.append(f"{label} {value:.3g}" if isinstance(value, float) else f"{label} {value}")
                if len(parts) > 1:
                    print(f"[{self.title}] " + "  ".join(parts), flush=True)
            elif self.mode == "plot" and time.perf_counter() - self._last_draw >= self.min_interval:
                self._draw(state)

        def on_train_end(self, args, state, control, **kwargs):
            if self.mode == "plot":
                self._draw(state)

    return StepTimer, CheckpointMarker, LiveCurve


def _in_jupyter_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# ----------------------------------------------------------------------------------------------------------------
# Models: LoRA or full, weight-change check, save / merge / reload
# ----------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def quiet_peft_warning():
    """Hide one FutureWarning while peft wraps a model: peft 0.21 reads transformers' deprecated
    ``is_gradient_checkpointing`` alias. The warning is about peft's code, not the learner's, and would otherwise
    show under every training and loading cell."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def top_layers(model, share: float | None) -> list[int] | None:
    """Indices of the top ``share`` of ``model``'s transformer blocks, at least one (``None`` or 1.0: every block,
    which is peft's default). 0.5 of SmolLM2's 30 blocks is blocks 15-29."""
    if share is None or share == 1:
        return None
    if not 0 < share <= 1:
        raise ConfigError(f"lora_block_share={share} — use a share of the blocks between 0 (exclusive) and 1")
    blocks = model.config.num_hidden_layers
    count = max(1, round(share * blocks))
    return list(range(blocks - count, blocks))


def prepare_model(model, config: TrainConfig, seed: int = 0):
    """Make ``model`` trainable by ``config.method``; returns the model to train (a ``PeftModel`` for LoRA).

    LoRA freezes every base weight and adds ``A (r x in)`` and ``B (out x r)`` next to each target layer, with
    ``B = 0`` at the start so training begins exactly at the base model. The adapters are created right after
    seeding with ``seed``, so the same seed gives the same initial ``A`` matrices.
    """
    import torch

    if config.method == "full":
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    missing = [m for m in config.target_modules if m not in names]
    if missing:
        raise ConfigError(f"LoRA target modules {missing} are not linear layers of this model — choose from: "
                          f"{', '.join(sorted(names))}")
    torch.manual_seed(seed)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
                      layers_to_transform=top_layers(model, config.lora_block_share))
    with quiet_peft_warning():
        return get_peft_model(model, lora)


def _local_values(param):
    """This process's values of a parameter, flattened: its own shard under FSDP2 (a ``DTensor``), else all."""
    return (param.to_local() if hasattr(param, "to_local") else param).detach().reshape(-1)


def _snapshot(model, per_tensor: int = 64) -> dict:
    """A fixed sample of ``per_tensor`` values from every trainable tensor (cheap even for full fine-tuning).

    Under FSDP2 each process samples its own shard (a process may hold none of a small tensor).
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    snap = {}
    for name, param in model.named_parameters():
        flat = _local_values(param)
        if param.requires_grad and flat.numel():
            index = torch.randint(0, flat.numel(), (min(per_tensor, flat.numel()),), generator=generator)
            snap[name] = (index, flat[index.to(flat.device)].float().cpu().clone())
    return snap


def _changed_tensors(model, snap: dict) -> int:
    """How many of the snapshotted tensors differ from the snapshot now (the most any process saw).

    With several processes every one must call it (it is a collective): under FSDP2 a change may show only in
    another process's shard.
    """
    import torch

    from . import distributed

    params = dict(model.named_parameters())
    changed = 0
    for name, (index, before) in snap.items():
        flat = _local_values(params[name])
        changed += int(not torch.equal(flat[index.to(flat.device)].float().cpu(), before))
    return int(distributed.max_across_processes([changed])[0])


def trainable_state(model) -> dict:
    """``{name: tensor}`` copies (CPU, fp32) of every trainable parameter — for comparing runs."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def folder_size_bytes(folder) -> int:
    """Total size of the files under ``folder`` in bytes (0 if it does not exist)."""
    folder = Path(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def save_trained(model, tokenizer, folder, state_dict: dict | None = None) -> Path:
    """Save a trained model atomically: the LoRA adapter only (a few MB) for a ``PeftModel``, else the whole model.

    Writes to a temporary sibling and renames, so an interrupted save never leaves a half-written folder.
    ``state_dict``: the weights to write instead of the model's own, e.g. the gathered copy of a model sharded by
    FSDP2 (:func:`course_lib.distributed.full_state_dict`), whose own tensors are only this process's shards.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(folder)
    if staging.exists():
        shutil.rmtree(staging)
    from .models import quiet_transformers_progress

    with quiet_transformers_progress():
        model.save_pretrained(staging, **({"state_dict": state_dict} if state_dict is not None else {}))
        tokenizer.save_pretrained(staging)
    return replace_folder(staging, folder)


def merge_adapter(model):
    """Fold LoRA adapters into the base weights (``W + (alpha / r) * B @ A``) and return the plain model.

    The merged model needs no peft at inference and runs as fast as the base model; ``model`` (the PeftModel) must
    not be used afterwards. A model without adapters is returned unchanged.
    """
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def load_trained(folder, runtime=None, base: str | None = None):
    """Load what :func:`save_trained` wrote: an adapter folder onto a fresh base model, or a whole model folder.

    Args:
        folder: the saved folder.
        runtime: moves the model to its device.
        base: registry name of the base model for an adapter (default: the one recorded by :func:`train`, else
            ``smollm2-135m-instruct``).

    Returns:
        ``(model, tokenizer)`` in eval mode.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from . import models

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder — pass the 'adapter' or 'model' folder that train() wrote")
    if (folder / "adapter_config.json").exists():
        from peft import PeftModel

        if base is None:
            info = folder / "course_base_model.txt"
            base = info.read_text(encoding="utf-8").strip() if info.exists() else "smollm2-135m-instruct"
        model, tokenizer = models.load_causal_lm(base, runtime=runtime, verbose=False)
        with quiet_peft_warning():
            model = PeftModel.from_pretrained(model, folder)
    elif (folder / "config.json").exists():
        import torch

        with models.quiet_transformers_progress():
            tokenizer = models.prepare_tokenizer(AutoTokenizer.from_pretrained(folder))
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        if runtime is not None:
            model.to(runtime.device)
    else:
        raise ConfigError(f"{folder} holds neither an adapter (adapter_config.json) nor a model (config.json) — "
                          "pass the folder train() or save_trained() wrote")
    model.eval()
    return model, tokenizer


# ----------------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------------

def read_records(path, columns: dict | None = None) -> list[dict]:
    """Instruction records ``{"instruction", "input", "output", ...}`` from a data file, ready for :func:`train`.

    Reading and column detection are :mod:`course_lib.data`'s (CSV/TSV/JSON/JSONL/Parquet; ``prompt``/``response``,
    ``question``/``answer``, ... are recognised; ``columns`` maps course field -> file column explicitly). Other
    fields of each record (``id``, ``keywords``...) are kept. Raises :class:`DataError` naming the file, row and fix
    when a record has no usable instruction or answer — clean such files with ``python -m course_lib check-data``
    and notebook 01 first.
    """
    from . import data

    table = data.load_table(path)
    mapping = data.resolve_columns(table, "instruction", columns)
    records = []
    for row, raw in zip(table.rows, table.records):
        record = {k: v for k, v in raw.items() if k not in mapping.values()}
        for name, column in mapping.items():
            value = raw.get(column)
            if name == "input" and value is None:
                value = ""
            if not isinstance(value, str) or (name != "input" and not value.strip()):
                raise DataError(path, f"the {name!r} value (column {column!r}) is empty or not text",
                                "fill it in or drop the row (course_lib.data.prepare drops such rows)", row=row,
                                column=column)
            record[name] = value
        records.append(record)
    return records


def split_records(records: list, n_eval: int, seed: int = 0) -> tuple[list, list]:
    """Shuffle a copy of ``records`` with ``seed`` and hold out ``n_eval`` of them: ``(train, eval)``."""
    records = list(records)
    random.Random(seed).shuffle(records)
    n_eval = max(1, min(n_eval, len(records) // 5)) if len(records) > 1 else 0
    return records[n_eval:], records[:n_eval]


def _subsample(records: list, n: int | None, seed: int) -> list:
    if n is None or n >= len(records):
        return list(records)
    records = list(records)
    random.Random(seed).shuffle(records)
    return records[:n]


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints and resume
# ----------------------------------------------------------------------------------------------------------------

def latest_checkpoint(output_dir) -> Path | None:
    """The newest *complete* checkpoint under ``output_dir/checkpoints`` (one with the completion marker)."""
    folder = Path(output_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return None
    complete = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                and (p / COMPLETE_MARKER).exists()]
    return max(complete, key=lambda p: int(p.name.split("-")[-1])) if complete else None


# ----------------------------------------------------------------------------------------------------------------
# The training run
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """What one :func:`train` call produced and measured.

    Attributes:
        method: ``"lora"`` or ``"full"``.
        config: the resolved :class:`TrainConfig` (a dict).
        metrics: ``train_loss`` (mean over the run), ``eval_loss`` (last evaluation), ``eval_loss_start`` (before
            training, when there is eval data), ``steps``, ``epoch``.
        log_history: the Trainer's log entries (loss, eval_loss, learning_rate, tokens/s per log).
        trainable_params / total_params: parameter counts (tied weights once).
        peak_memory_bytes / memory_kind: see :class:`PeakMemory`; ``start_memory_bytes``: at the start of training.
        seconds: wall-clock time of ``trainer.train`` (evaluation and checkpointing included).
        useful_tokens_per_s / computed_tokens_per_s: non-padding and padded tokens per second inside optimiser steps.
        useful_tokens: non-padding tokens trained on.
        output_dir / final_dir / stamp_path: where checkpoints, the final adapter or model, and the stamp are.
        resumed_from: checkpoint the run continued from, or ``None``.
        tokenize_report: what tokenization kept and dropped (``formatting.TokenizeReport`` as text).
        model / tokenizer: the trained model (PeftModel for LoRA) and tokenizer, in memory.
    """

    method: str
    config: dict
    metrics: dict
    log_history: list
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    start_memory_bytes: int
    memory_kind: str
    seconds: float
    useful_tokens_per_s: float
    computed_tokens_per_s: float
    useful_tokens: int
    output_dir: Path
    final_dir: Path | None
    stamp_path: Path | None
    resumed_from: Path | None
    tokenize_report: str
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)

    @property
    def trainable_fraction(self) -> float:
        return self.trainable_params / self.total_params if self.total_params else 0.0

    def history(self):
        """The log history as a DataFrame indexed by step (``plotting.history_table``)."""
        from .plotting import history_table

        return history_table(self.log_history)

    def summary(self) -> dict:
        """Flat numbers for a comparison table and ``metrics.json``."""
        return {
            "method": self.method,
            "trainable_params": self.trainable_params,
            "trainable_percent": round(100 * self.trainable_fraction, 3),
            "peak_memory_mb": round(self.peak_memory_bytes / 2**20, 1),
            "seconds": round(self.seconds, 1),
            "useful_tokens_per_s": round(self.useful_tokens_per_s, 1),
            "computed_tokens_per_s": round(self.computed_tokens_per_s, 1),
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.metrics.items()},
            "final_dir": str(self.final_dir) if self.final_dir else None,
            "final_size_mb": round(folder_size_bytes(self.final_dir) / 2**20, 2) if self.final_dir else None,
        }


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def train(train_records, eval_records=None, config: TrainConfig | None = None, runtime=None, output_dir=None,
          resume: bool = False, model=None, tokenizer=None, callbacks=(), title: str | None = None) -> TrainResult:
    """Fine-tune the profile's decoder on instruction records; return a :class:`TrainResult`.

    Args:
        train_records: list of ``{"instruction", "input"?, "output"}`` dicts, or a path (JSONL/JSON).
        eval_records: held-out records (or a path) for the eval loss; ``None`` holds out ``eval_examples`` of
            ``train_records`` (at most a fifth).
        config: a :class:`TrainConfig` (``None``: LoRA with the profile's settings).
        runtime: from ``runtime.setup`` (``None``: ``setup("auto")``).
        output_dir: folder for ``checkpoints/``, the final ``adapter/`` (LoRA) or ``model/`` (full),
            ``metrics.json``, ``history.json``, ``train_config.json`` and ``stamp.json``
            (default: ``paths.output_dir("train", method)``).
        resume: continue from the newest complete checkpoint in ``output_dir`` (started fresh if there is none).
            With ``resume=False`` earlier checkpoints in ``output_dir`` are deleted first.
        model, tokenizer: a freshly loaded decoder to train (default: load ``profile.decoder``). It is modified.
        callbacks: extra ``TrainerCallback`` objects.
        title: label for the live curve (default: the method).

    Raises:
        TrainingFailed: NaN/inf loss, or no trainable weight changed.
        ConfigError / DataError: a bad setting or data file, before anything is written.
    """
    from transformers import EarlyStoppingCallback, PrinterCallback, set_seed

    from . import distributed, formatting, models, paths
    from . import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    cfg = (config or TrainConfig()).resolve(rt.profile)
    cfg = distributed.prepare(cfg)  # under accelerate launch/torchrun: same global batch, or one ConfigError
    if isinstance(train_records, (str, os.PathLike)):
        train_records = read_records(train_records)
    if isinstance(eval_records, (str, os.PathLike)):
        eval_records = read_records(eval_records)
    train_records = list(train_records)
    if eval_records is None:
        train_records, eval_records = split_records(train_records, cfg.eval_examples or 50, rt.seed)
    train_records = _subsample(train_records, cfg.train_examples, rt.seed)
    eval_records = _subsample(list(eval_records), cfg.eval_examples, rt.seed)
    if not train_records:
        raise ConfigError("there are no training records — pass at least a few dozen instruction/output pairs")

    out = Path(output_dir) if output_dir is not None else paths.output_dir("train", cfg.method)
    ckpt_dir = out / CHECKPOINT_DIR
    config_path = out / "train_config.json"
    resume_from = latest_checkpoint(out) if resume else None
    if resume_from is not None and config_path.exists():
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        cosmetic = ("live", "save_final", "eval_at_start")  # may differ between a crashed run and its resumption
        same = {k: v for k, v in saved.get("config", {}).items() if k not in cosmetic} == {
            k: v for k, v in cfg.to_dict().items() if k not in cosmetic}
        if not same or saved.get("seed") != rt.seed:
            raise ConfigError(f"{out} holds checkpoints of a run with different settings — resume with the same "
                              "config, profile and seed, or use resume=False / another output folder")

    if model is None or tokenizer is None:
        model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    train_features, report = formatting.tokenize_dataset(train_records, tokenizer, cfg.max_seq_len, cfg.system_prompt)
    eval_features = (formatting.tokenize_dataset(eval_records, tokenizer, cfg.max_seq_len, cfg.system_prompt)[0]
                     if eval_records else [])
    if cfg.packing:
        formatting.verify_packing(model, train_features[:3], tokenizer.pad_token_id)
        train_rows = formatting.pack_examples(train_features, cfg.max_seq_len)
        eval_rows = formatting.pack_examples(eval_features, cfg.max_seq_len) if eval_features else []
        collator = formatting.PackedCollator(tokenizer.pad_token_id)
    else:
        train_rows, eval_rows = train_features, eval_features
        collator = formatting.CausalCollator(tokenizer.pad_token_id)

    set_seed(rt.seed)
    model = prepare_model(model, cfg, rt.seed)
    counts = models.count_parameters(model)
    args = training_arguments(cfg, rt, ckpt_dir, has_eval=bool(eval_rows))

    trainer_cls = _make_trainer_class()
    StepTimer, CheckpointMarker, LiveCurve = _callbacks_module()
    throughput = Throughput(tokenizer.pad_token_id)
    cbs = [StepTimer(throughput), CheckpointMarker(), LiveCurve(cfg.live, title=title or cfg.method)]
    if cfg.early_stopping_patience is not None and eval_rows:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = trainer_cls(model=model, args=args, data_collator=collator, train_dataset=train_rows,
                          eval_dataset=eval_rows or None, processing_class=tokenizer, callbacks=[*cbs, *callbacks])
    trainer.throughput = throughput
    trainer.remove_callback(PrinterCallback)  # with tqdm off the Trainer prints raw dicts; LiveCurve reports instead
    main = trainer.is_world_process_zero()

    if main:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
        write_json_atomic(config_path, {"config": cfg.to_dict(), "seed": rt.seed, "profile": rt.profile.name})
    metrics: dict = {}
    if eval_rows and resume_from is None and cfg.eval_at_start:
        metrics["eval_loss_start"] = _finite(trainer.evaluate()["eval_loss"])
        trainer.state.log_history.clear()  # the curve starts at step 0 with training; keep the number aside

    snap = _snapshot(trainer.model)
    start = time.perf_counter()
    with PeakMemory(rt.device) as memory:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    distributed.combine_throughput(throughput)  # several processes: the whole job's tokens/s
    if resume_from is None or trainer.state.global_step > int(resume_from.name.split("-")[-1]):
        if _changed_tensors(trainer.model, snap) == 0:
            raise TrainingFailed(f"no trainable weight changed in {trainer.state.global_step} steps (learning rate "
                                 f"{cfg.learning_rate}) — check that the learning rate is > 0 and that the "
                                 "answers are not all masked")

    metrics.update({"train_loss": _finite(output.training_loss), "steps": trainer.state.global_step,
                    "epoch": round(float(trainer.state.epoch or 0), 3)})
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    if eval_rows and (not evals or trainer.state.log_history[-1].get("step") != trainer.state.global_step):
        evals.append(trainer.evaluate()["eval_loss"])
    if evals:
        metrics["eval_loss"] = _finite(evals[-1])

    final_dir = stamp_path = None
    # Under FSDP2 each process holds a shard of every weight: gather them (every process takes part) for rank 0.
    gathered = distributed.full_state_dict(trainer.model) if cfg.save_final else None
    if main:
        if cfg.save_final:
            final_dir = save_trained(trainer.model, tokenizer, out / ("adapter" if cfg.method == "lora" else "model"),
                                     state_dict=gathered)
            if cfg.method == "lora":
                (final_dir / "course_base_model.txt").write_text(rt.profile.decoder + "\n", encoding="utf-8")
        write_json_atomic(out / "history.json", trainer.state.log_history)
    result = TrainResult(
        method=cfg.method, config=cfg.to_dict(), metrics=metrics, log_history=list(trainer.state.log_history),
        trainable_params=counts.trainable, total_params=counts.total, peak_memory_bytes=memory.peak_bytes,
        start_memory_bytes=memory.start_bytes, memory_kind=memory.kind, seconds=seconds,
        useful_tokens_per_s=throughput.useful_per_s, computed_tokens_per_s=throughput.computed_per_s,
        useful_tokens=throughput.useful, output_dir=out, final_dir=final_dir, stamp_path=None,
        resumed_from=resume_from, tokenize_report=str(report), model=trainer.model, tokenizer=tokenizer)
    if main:
        write_json_atomic(out / "metrics.json", result.summary())
        stamp_path = rt.write_stamp(out, extra={"train": result.summary(), "train_config": cfg.to_dict(),
                                                "tokenize_report": str(report),
                                                "resumed_from": str(resume_from) if resume_from else None})
        result.stamp_path = stamp_path
    result.model.eval()
    return result


# ----------------------------------------------------------------------------------------------------------------
# Reusing an earlier lesson's run
# ----------------------------------------------------------------------------------------------------------------

def find_saved_run(folder, method: str = "lora", profile: str | None = None) -> Path | None:
    """The final ``adapter/`` (LoRA) or ``model/`` (full) folder of a finished :func:`train` run in ``folder``.

    Returns ``None`` when there is none, when ``train_config.json`` is missing, when the run used another method,
    or (with ``profile``) when it was trained in another profile: a smoke adapter (4 steps) must not stand in for
    a cpu one, nor the reverse.
    """
    folder = Path(folder)
    final = folder / ("adapter" if method == "lora" else "model")
    config_file = folder / "train_config.json"
    if not final.is_dir() or not config_file.exists():
        return None
    try:
        saved = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if saved.get("config", {}).get("method") != method:
        return None
    if profile is not None and saved.get("profile") != profile:
        return None
    return final


@dataclass
class TrainedModel:
    """A fine-tuned model ready to use, reused from an earlier run or trained now (:func:`reuse_or_train`).

    Attributes:
        model / tokenizer: in eval mode.
        source: ``"reused"`` or ``"trained"``.
        run_dir: the run folder (``train_config.json``, ``metrics.json``, ``history.json``).
        system_prompt: the system message the model was trained with (prompt it the same way).
        seconds: wall-clock training time of that run (``None`` if it was not recorded).
        steps: optimiser steps of that run; ``examples_per_step``: batch size x gradient accumulation.
        log_history: the run's Trainer log (empty if not recorded).
    """

    model: object = field(repr=False)
    tokenizer: object = field(repr=False)
    source: str
    run_dir: Path
    system_prompt: str | None
    seconds: float | None
    steps: int | None
    examples_per_step: int
    log_history: list = field(default_factory=list, repr=False)

    @property
    def seconds_per_step(self) -> float | None:
        return self.seconds / self.steps if self.seconds and self.steps else None


def reuse_or_train(saved_run_dir, train_records, eval_records=None, config: TrainConfig | None = None, runtime=None,
                   output_dir=None, reuse: bool = True, title: str | None = None) -> TrainedModel:
    """Load the model an earlier lesson saved in ``saved_run_dir`` when it fits, else train one now.

    It fits when :func:`find_saved_run` finds a finished run there with ``config.method`` in the runtime's
    profile. Otherwise :func:`train` runs on ``train_records`` / ``eval_records`` with ``config`` into
    ``output_dir`` (pass ``eval_records=[]`` to skip evaluation and save time). ``reuse=False`` always trains.
    """
    from . import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    cfg = config or TrainConfig()
    final = find_saved_run(saved_run_dir, cfg.method, rt.profile.name) if reuse else None
    if final is not None:
        run_dir = final.parent
        saved = json.loads((run_dir / "train_config.json").read_text(encoding="utf-8"))["config"]
        metrics_file, history_file = run_dir / "metrics.json", run_dir / "history.json"
        metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.exists() else {}
        history = json.loads(history_file.read_text(encoding="utf-8")) if history_file.exists() else []
        model, tokenizer = load_trained(final, runtime=rt)
        return TrainedModel(model=model, tokenizer=tokenizer, source="reused", run_dir=run_dir,
                            system_prompt=saved.get("system_prompt"), seconds=metrics.get("seconds"),
                            steps=metrics.get("steps"),
                            examples_per_step=int(saved.get("batch_size", 1)) * int(saved.get("grad_accum", 1)),
                            log_history=history)
    result = train(train_records, eval_records, config=cfg, runtime=rt, output_dir=output_dir, title=title)
    return TrainedModel(model=result.model, tokenizer=result.tokenizer, source="trained", run_dir=result.output_dir,
                        system_prompt=result.config.get("system_prompt"), seconds=result.seconds,
                        steps=result.metrics.get("steps"),
                        examples_per_step=int(result.config["batch_size"]) * int(result.config["grad_accum"]),
                        log_history=result.log_history)


# ----------------------------------------------------------------------------------------------------------------
# Encoder classifier (the "BERT for classification" path)
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class ClassifierResult:
    """What :func:`train_classifier` produced.

    Attributes:
        labels: class names, index = class id.
        log_history: Trainer log entries (loss per logging step).
        trainable_params / total_params: parameter counts (all weights train: encoder + new head).
        seconds: wall-clock training time; peak_memory_bytes / memory_kind: see :class:`PeakMemory`.
        useful_tokens_per_s: non-padding tokens per second inside optimiser steps.
        steps: optimiser steps taken.
        model / tokenizer: the fine-tuned ``AutoModelForSequenceClassification`` and its tokenizer.
    """

    labels: list
    log_history: list
    trainable_params: int
    total_params: int
    seconds: float
    peak_memory_bytes: int
    memory_kind: str
    useful_tokens_per_s: float
    steps: int
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)


def train_classifier(texts, labels, label_names, runtime=None, learning_rate: float | None = None,
                     epochs: float | None = None, max_length: int = 128, encoder: str = "minilm-l6",
                     live: str = "auto", output_dir=None) -> ClassifierResult:
    """Fine-tune the packaged MiniLM encoder with a fresh classification head on ``texts`` -> ``labels``.

    Args:
        texts / labels: training texts and their class names (each one of ``label_names``).
        label_names: the classes, in the order of the head's outputs.
        runtime: budgets come from its profile: ``train_examples`` (random subsample), ``classifier_epochs``,
            ``classifier_learning_rate``, ``max_steps``, ``batch_size``, ``grad_accum``, ``warmup_ratio``,
            ``logging_steps``; precision as for the decoder.
        learning_rate: for every weight (``None``: the profile's ``classifier_learning_rate``). The head starts
            random and the budgets are a few hundred steps, where BERT's usual 2e-5 barely moves it.
        epochs: passes over the texts (``None``: the profile's ``classifier_epochs``).
        max_length: truncation in tokens (reviews are short: ~40 tokens).
        live: as :attr:`TrainConfig.live`.
        output_dir: scratch folder for the Trainer (nothing is checkpointed; default ``paths.output_dir``).

    Evaluate the result with ``evaluation.predict_classes`` and ``evaluation.classification_metrics``.
    """
    from transformers import DataCollatorWithPadding, PrinterCallback, TrainingArguments, set_seed

    from . import models, paths
    from . import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    prof = rt.profile
    label_names = list(label_names)
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ConfigError(f"labels {unknown[:5]} are not in label_names {label_names} — pass every class name")
    pairs = _subsample(list(zip(texts, labels)), prof.train_examples, rt.seed)
    if not pairs:
        raise ConfigError("there are no training texts — pass at least a few labelled examples")
    set_seed(rt.seed)
    model, tokenizer = models.load_classifier(label_names, name=encoder, runtime=rt)
    encoded = tokenizer([t for t, _ in pairs], truncation=True, max_length=max_length)
    rows = [{"input_ids": ids, "attention_mask": mask, "labels": index[label]}
            for ids, mask, (_, label) in zip(encoded["input_ids"], encoded["attention_mask"], pairs)]
    out = Path(output_dir) if output_dir is not None else paths.output_dir("classifier")
    args = TrainingArguments(
        output_dir=str(out), num_train_epochs=epochs or prof.classifier_epochs, max_steps=prof.max_steps,
        per_device_train_batch_size=prof.batch_size, gradient_accumulation_steps=prof.grad_accum,
        learning_rate=learning_rate or prof.classifier_learning_rate, warmup_steps=prof.warmup_ratio,
        weight_decay=prof.weight_decay,
        lr_scheduler_type="linear", optim=choose_optimizer(rt.device),
        bf16=rt.precision == "bf16", fp16=rt.precision == "fp16", use_cpu=rt.device == "cpu",  # see training_arguments
        eval_strategy="no", save_strategy="no", logging_strategy="steps", logging_steps=prof.logging_steps,
        logging_first_step=True, logging_nan_inf_filter=False, seed=rt.seed, data_seed=rt.seed,
        train_sampling_strategy="group_by_length", remove_unused_columns=False, dataloader_num_workers=0,
        report_to="none", disable_tqdm=True)
    StepTimer, _, LiveCurve = _callbacks_module()
    throughput = Throughput(tokenizer.pad_token_id)
    trainer = _make_trainer_class()(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                                    data_collator=DataCollatorWithPadding(tokenizer),
                                    callbacks=[StepTimer(throughput), LiveCurve(live, title="classifier")])
    trainer.throughput = throughput
    trainer.remove_callback(PrinterCallback)
    counts = models.count_parameters(model)
    start = time.perf_counter()
    with PeakMemory(rt.device) as memory:
        trainer.train()
    seconds = time.perf_counter() - start
    trainer.model.eval()
    return ClassifierResult(labels=label_names, log_history=list(trainer.state.log_history),
                            trainable_params=counts.trainable, total_params=counts.total, seconds=seconds,
                            peak_memory_bytes=memory.peak_bytes, memory_kind=memory.kind,
                            useful_tokens_per_s=throughput.useful_per_s, steps=trainer.state.global_step,
                            model=trainer.model, tokenizer=tokenizer)


# ----------------------------------------------------------------------------------------------------------------
# Command line: python -m course_lib train
# ----------------------------------------------------------------------------------------------------------------

def run_train(args) -> int:
    """Handler of ``python -m course_lib train`` (same code path as the notebooks)."""
    from . import runtime as runtime_mod

    if args.method not in ("lora", "full"):
        raise ConfigError(f"unknown method {args.method!r} — use lora or full")
    if args.profile != "auto":
        runtime_mod.get_profile(args.profile)
    records = read_records(args.data)  # fail on bad data before loading torch-heavy parts
    eval_records = read_records(args.eval_data) if args.eval_data else None
    from .distributed import is_main_process

    rt = runtime_mod.setup(args.profile, args.seed, quiet=not is_main_process())
    overrides = {k: getattr(args, k) for k in ("max_steps", "save_steps", "eval_steps", "logging_steps", "lora_dropout",
                                               "lora_block_share") if getattr(args, k, None) is not None}
    config = TrainConfig(method=args.method, system_prompt=args.system_prompt, packing=args.packing,
                         live="off" if args.quiet else "text", **overrides)
    result = train(records, eval_records, config=config, runtime=rt, output_dir=args.out, resume=args.resume)
    if not is_main_process():  # launched on several processes: rank 0 reports
        return 0
    if result.resumed_from:
        print(f"resumed from {result.resumed_from}")
    summary = result.summary()
    print(json.dumps(summary, indent=2))
    print(f"saved: {result.final_dir}  metrics: {result.output_dir / 'metrics.json'}")
    return 0
