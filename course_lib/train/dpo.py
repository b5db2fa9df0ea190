"""Preference tuning with DPO (notebook 08): :class:`DPOTrainConfig` from the profile, and :func:`train_dpo`, TRL's
``DPOTrainer`` on top of a supervised (SFT) model.

DPO (direct preference optimisation) trains on pairs ``(prompt, chosen, rejected)`` without a reward model: the
loss ``-log sigmoid(beta * [(log pi(c) - log ref(c)) - (log pi(r) - log ref(r))])`` raises the chosen answer's
log-probability *relative to a frozen reference* more than the rejected one's. ``beta`` sets how much a unit of
that margin counts: a large ``beta`` reaches a low loss with a small move, so the model stays close to the
reference; a small ``beta`` lets it move further.

Here the policy is a fresh LoRA adapter on the SFT model (notebook 03's adapter merged into the weights), and the
reference is the same model with the adapter switched off: TRL does that when it gets ``peft_config`` and no
``ref_model``, so no second copy of the model is held in memory.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..files import write_json_atomic
from ..paths import RunDir
from .adapters import lora_config, quiet_peft_warning, save_trained
from .callbacks import _callbacks_module
from .config import DEFAULT_TARGET_MODULES, TrainConfig, choose_optimizer, quiet_checkpointing_deprecation


@dataclass
class DPOTrainConfig:
    """What a DPO run trains and how. ``None`` means "take it from the runtime's profile" (:meth:`resolve`).

    Preference loss:
        beta: the DPO temperature (profile ``dpo_beta``); larger keeps the model nearer its reference.
        loss_type: TRL's loss name (``"sigmoid"``: the DPO paper's loss).

    Optimisation: max_steps (profile ``dpo_steps``), batch_size (pairs per step, profile ``dpo_batch_size``),
        learning_rate (profile ``dpo_learning_rate``), warmup_steps, max_grad_norm, logging_steps.

    Model and data:
        max_seq_len: longest prompt + answer, in tokens (TRL's ``max_length``); ``None``: no cut. Not the profile's
            ``max_seq_len``: TRL keeps the *start* of a sequence, so a prompt longer than the limit would leave
            nothing of the answer, and the pair would be dropped; the answers here are the model's own, at most
            ``max_new_tokens`` long, so no cut is needed.
        system_prompt: the system message of every prompt (the SFT model's own, so the pairs look like its
            training data).
        lora_r / lora_alpha / lora_dropout / lora_block_share / target_modules: the new adapter (the profile's LoRA
            settings, as for supervised training).
        live: ``"auto"``, ``"text"``, ``"plot"`` or ``"off"`` (the live curve of loss, margin and log-probs).
    """

    beta: float | None = None
    loss_type: str = "sigmoid"
    max_steps: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    logging_steps: int = 1
    max_seq_len: int | None = None
    system_prompt: str | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    lora_block_share: float | None = None
    target_modules: tuple = DEFAULT_TARGET_MODULES
    live: str = "auto"

    def resolve(self, profile) -> "DPOTrainConfig":
        """A copy with every ``None`` filled from ``profile`` (a ``runtime.Profile``), validated."""
        defaults = {"beta": profile.dpo_beta, "max_steps": profile.dpo_steps, "batch_size": profile.dpo_batch_size,
                    "learning_rate": profile.dpo_learning_rate,
                    "lora_r": profile.lora_r, "lora_alpha": profile.lora_alpha,
                    "lora_dropout": profile.lora_dropout, "lora_block_share": profile.lora_block_share}
        filled = dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})
        if filled.beta <= 0:
            raise ConfigError(f"beta={filled.beta} must be positive — DPO's usual range is 0.05 to 0.5")
        for name in ("max_steps", "batch_size", "logging_steps"):
            if int(getattr(filled, name)) < 1:
                raise ConfigError(f"{name}={getattr(filled, name)} must be at least 1 — fix the DPOTrainConfig "
                                  "or the profile's dpo_* fields")
        if filled.max_seq_len is not None and filled.max_seq_len < 32:
            raise ConfigError(f"max_seq_len={filled.max_seq_len} cannot hold a prompt and an answer — use None "
                              "(no cut)")
        if filled.live not in ("auto", "text", "plot", "off"):
            raise ConfigError(f"unknown live display {filled.live!r} — use 'auto', 'text', 'plot' or 'off'")
        return filled

    def adapter_config(self) -> TrainConfig:
        """The LoRA part as a :class:`TrainConfig`, for ``adapters.lora_config``."""
        return TrainConfig(method="lora", lora_r=self.lora_r, lora_alpha=self.lora_alpha,
                           lora_dropout=self.lora_dropout, lora_block_share=self.lora_block_share,
                           target_modules=tuple(self.target_modules))


@dataclass
class DPOResult:
    """What one :func:`train_dpo` run produced.

    Attributes:
        config: the resolved :class:`DPOTrainConfig` (a dict). steps: optimiser steps. seconds: wall clock of
            ``trainer.train``. log_history: the Trainer's log: ``loss``, ``rewards/margins``,
            ``rewards/accuracies``, ``rewards/chosen`` / ``rewards/rejected`` (beta x log-ratio to the reference),
            ``logps/chosen`` / ``logps/rejected`` (summed over the answer tokens, nats) per logged step.
        output_dir / adapter_dir: the run folder (``history.json``, ``metrics.json``) and the saved adapter.
        model / tokenizer: the tuned PeftModel (adapter on; ``with model.disable_adapter():`` gives the reference).
    """

    config: dict
    steps: int
    seconds: float
    log_history: list
    output_dir: Path
    adapter_dir: Path
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)

    def last(self, key: str) -> float | None:
        """The last logged value of ``key`` (e.g. ``"rewards/margins"``), or ``None``."""
        values = [entry[key] for entry in self.log_history if key in entry]
        return float(values[-1]) if values else None


def preference_dataset(pairs, system_prompt: str | None):
    """``pairs`` (``prompt`` / ``chosen`` / ``rejected`` texts) as TRL's conversational preference dataset: the
    prompt as chat messages (system, user), each answer as one assistant message, so TRL renders them with the
    same chat template as supervised training."""
    from datasets import Dataset

    from .. import formatting

    rows = [{"prompt": formatting.to_messages({"instruction": p["prompt"]}, system_prompt, with_answer=False),
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]
    return Dataset.from_list(rows)


def dpo_arguments(config: DPOTrainConfig, runtime, output_dir):
    """TRL's ``DPOConfig`` for a resolved ``config`` on ``runtime``."""
    from trl import DPOConfig

    with quiet_checkpointing_deprecation():
        return DPOConfig(**dpo_argument_kwargs(config, runtime, output_dir))


def dpo_argument_kwargs(config: DPOTrainConfig, runtime, output_dir) -> dict:
    """The keyword arguments :func:`dpo_arguments` passes to ``DPOConfig`` (tests/test_api_drift.py checks every
    name against the installed TRL)."""
    return dict(
        output_dir=str(output_dir),
        beta=config.beta,
        loss_type=[config.loss_type],
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type="constant",  # a few dozen steps: no schedule to speak of, and the curves read plainly
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        max_length=config.max_seq_len,
        optim=choose_optimizer(runtime.device),
        # Precision from the runtime, set explicitly: DPOConfig's own default is bf16 on, which would emulate bf16
        # on a CPU without native support (slower than fp32) and break the fp32 smoke tests' repeatability.
        bf16=runtime.precision == "bf16",
        fp16=runtime.precision == "fp16",
        use_cpu=runtime.device == "cpu",
        # Off, unlike DPOConfig's default: a 135M model's activations fit easily, and recomputing them in the
        # backward pass would cost about a third more time per step.
        gradient_checkpointing=False,
        # The reference log-probs are computed batch by batch with the adapter off; precomputing them would only
        # pay off over several epochs of the same pairs.
        precompute_ref_log_probs=False,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="no",  # a short run: the final adapter is saved below, no checkpoints
        seed=runtime.seed,
        data_seed=runtime.seed,
        dataloader_num_workers=0,
        report_to="none",  # offline: no wandb, no hub
        disable_tqdm=True,  # the live curve reports progress
    )


def train_dpo(pairs, model, tokenizer, config: DPOTrainConfig | None = None, runtime=None, output_dir=None,
              title: str = "DPO") -> DPOResult:
    """DPO on ``pairs`` (validated preference rows) with a fresh LoRA adapter on ``model``; returns a
    :class:`DPOResult`.

    Args:
        pairs: ``[{"prompt", "chosen", "rejected"}, ...]`` (``course_lib.preference.read_preferences`` or
            ``preference_pairs``); checked with ``preference.validate_preferences``.
        model: a plain causal LM (the SFT model, its adapter merged): it becomes the reference, and is modified
            (peft wraps it).
        tokenizer: its tokenizer (with a pad token distinct from EOS, see ``models.prepare_tokenizer``).
        config / runtime / output_dir: the run's settings (``None``: the profile's), hardware, and folder
            (default ``paths.output_dir("dpo")``) for ``adapter/``, ``history.json`` and ``metrics.json``.
        title: label of the live curve.
    """
    from transformers import PrinterCallback, set_seed
    from trl import DPOTrainer

    from .. import paths, plotting, preference
    from .. import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    cfg = (config or DPOTrainConfig()).resolve(rt.profile)
    pairs = preference.validate_preferences(pairs)
    out = Path(output_dir) if output_dir is not None else paths.output_dir("dpo")
    run = RunDir(out)
    if hasattr(model, "peft_config"):
        raise ConfigError("train_dpo adds its own adapter — pass the plain model (train.merge_adapter(sft_model))")
    set_seed(rt.seed)  # the new adapter's A matrices, then the order of the pairs
    _, _, LiveCurve = _callbacks_module()
    with quiet_peft_warning():
        trainer = DPOTrainer(model=model, ref_model=None, args=dpo_arguments(cfg, rt, run.checkpoints),
                             train_dataset=preference_dataset(pairs, cfg.system_prompt), processing_class=tokenizer,
                             peft_config=lora_config(model, cfg.adapter_config()),
                             callbacks=[LiveCurve(cfg.live, title=title, figure=plotting.preference_curves)])
        trainer.remove_callback(PrinterCallback)  # with tqdm off the Trainer prints raw dicts; LiveCurve reports
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    adapter_dir = save_trained(trainer.model, tokenizer, run.adapter)
    result = DPOResult(config=dataclasses.asdict(cfg), steps=trainer.state.global_step, seconds=seconds,
                       log_history=list(trainer.state.log_history), output_dir=out, adapter_dir=adapter_dir,
                       model=trainer.model, tokenizer=tokenizer)
    write_json_atomic(run.history, result.log_history)
    write_json_atomic(run.metrics, {"steps": result.steps, "seconds": seconds, "pairs": len(pairs),
                                    "config": result.config})
    result.model.eval()
    return result
