"""What to train and how: :class:`TrainConfig`, its defaults from the profile, and the Trainer's arguments.

Taught in notebook 03 (the budgets of a run); notebook 05 varies these settings one at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from dataclasses import dataclass

from ..errors import ConfigError

# LoRA on every linear layer of the Llama blocks (attention and MLP), not the embeddings or the LM head: adapting
# the MLPs too helps quality noticeably at rank 8, and SmolLM2-135M still trains ~1.8% of its weights.
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


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
        group_by_length: without packing, batch examples of similar length (less padding; the order depends on
            every example's token count). ``False``: batches in a seeded random order that depends only on the
            number of examples and the seed — notebook 09 uses it so that the course's trainer and TRL's
            ``SFTTrainer`` draw the same batches (length-grouped, they drew different ones).

    Optimisation (Hugging Face names): epochs, max_steps (-1 = epochs decide), batch_size, grad_accum,
        eval_batch_size (examples per evaluation forward pass; ``None``: batch_size — evaluation keeps no
        gradients or optimizer state, so a larger one usually fits and runs faster),
        learning_rate (``None``: the profile's LoRA or full rate, by method), warmup_ratio, weight_decay,
        lr_scheduler ("cosine", "linear", "constant", ...), max_grad_norm.

    Bookkeeping: eval_steps / save_steps / logging_steps (optimiser steps), save_total_limit (checkpoints kept; ``None``: all),
        early_stopping_patience (stop after this many evaluations without a lower eval loss; ``None`` = off),
        save_final (write the final adapter/model folder), live (``"auto"``: figure in Jupyter, text elsewhere;
        ``"text"``, ``"plot"`` or ``"off"``), eval_at_start (measure the eval loss before the first step,
        ``metrics["eval_loss_start"]``; runs that share their base model and eval set can measure it once).

    Speed: bf16_frozen_weights: while a run trains in bf16, round the frozen linear weights to bf16 once and compute
        every step with those roundings instead of rounding them at every step (``train.frozen``; the same
        matmuls; between the steps and afterwards the model keeps its fp32 weights). ``None``: where
        ``runtime.frozen_weights_in_bf16`` says it pays (bf16 CPUs); ignored in fp32 and with several processes.
        compile_blocks: run the decoder blocks through ``torch.compile`` in the training steps (``train.compiled``;
        evaluation and the returned model stay eager). ``None``: where ``runtime.compiled_training_pays`` says the
        machine gains (CPUs with AMX) and the run has at least ``COMPILE_MIN_STEPS`` steps to repay the compile;
        ignored with several processes.
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
    group_by_length: bool = True
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
    save_total_limit: int | None = 2
    early_stopping_patience: int | None = None
    save_final: bool = True
    live: str = "auto"
    eval_at_start: bool = True
    bf16_frozen_weights: bool | None = None
    compile_blocks: bool | None = None

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

    return TrainingArguments(**training_argument_kwargs(config, runtime, output_dir, has_eval))


def training_argument_kwargs(config: TrainConfig, runtime, output_dir, has_eval: bool = True) -> dict:
    """The keyword arguments :func:`training_arguments` passes to ``TrainingArguments``, as a dict.

    Kept apart so that TRL's ``SFTConfig`` (a subclass, ``train.trl_sft``) starts from the same settings, and so
    that tests/test_api_drift.py can check every name against the installed transformers.
    """
    patience = config.early_stopping_patience is not None and has_eval
    # A fraction < 1 is a share of the total steps, which transformers rounds *up*: a run of a few steps would
    # spend its first step at learning rate 0 (a 1-step run would change nothing). With a known step count, round
    # down instead (4 steps x 0.05 -> no warm-up).
    warmup = config.warmup_ratio
    if config.max_steps > 0 and 0 < warmup < 1:
        warmup = int(warmup * config.max_steps)
    return dict(
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
        # Packed rows are all about max_seq_len long; otherwise group similar lengths to cut padding (on request).
        train_sampling_strategy="group_by_length" if config.group_by_length and not config.packing else "random",
        remove_unused_columns=False,
        dataloader_num_workers=0,  # in-process: deterministic, and the token counters see every batch
        report_to="none",
        disable_tqdm=True,  # the live-curve callback reports progress
    )


@contextlib.contextmanager
def quiet_checkpointing_deprecation():
    """Hide one FutureWarning around building TRL's configs: from transformers 5.23 ``gradient_checkpointing`` is a
    deprecated alias of ``activation_checkpointing``, and TRL 1.16's configs set it whatever the caller passes. The
    course passes the old name (``gradient_checkpointing=False``), which every transformers 5 release accepts; the
    warning is about that alias, not about the learner's code."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.* is deprecated.*", category=FutureWarning)
        yield

