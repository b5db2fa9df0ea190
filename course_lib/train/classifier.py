"""The "BERT for classification" path: an encoder with a fresh classification head, fine-tuned on labelled texts.

Taught in notebook 03 (the review classifier next to the fine-tuned decoder); notebook 07 retrains it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .callbacks import _callbacks_module
from .config import choose_optimizer
from .measure import PeakMemory, Throughput
from .records import _subsample
from .trainer import _make_trainer_class


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


def _labelled_pairs(texts, labels, label_names, train_examples: int | None, seed: int):
    """``(class names, {name: class id}, (text, label) pairs)``: every label checked against ``label_names``,
    then up to ``train_examples`` random pairs (``None``: all)."""
    label_names = list(label_names)
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ConfigError(f"labels {unknown[:5]} are not in label_names {label_names} — pass every class name")
    pairs = _subsample(list(zip(texts, labels)), train_examples, seed)
    if not pairs:
        raise ConfigError("there are no training texts — pass at least a few labelled examples")
    return label_names, index, pairs


def _classifier_arguments(out: Path, prof, rt, epochs: float | None, learning_rate: float | None):
    """``TrainingArguments`` of the classifier: the profile's budgets, no evaluation and no checkpoints."""
    from transformers import TrainingArguments

    return TrainingArguments(**classifier_argument_kwargs(out, prof, rt, epochs, learning_rate))


def classifier_argument_kwargs(out: Path, prof, rt, epochs: float | None = None,
                               learning_rate: float | None = None) -> dict:
    """The keyword arguments of the classifier's ``TrainingArguments`` (checked by tests/test_api_drift.py)."""
    return dict(
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


def _classifier_trainer(model, tokenizer, rows: list, args, live: str):
    """``(trainer, throughput)``: the course's Trainer on token ``rows``, padded per batch, with the step timer and
    the live curve (no checkpoint marker: nothing is checkpointed)."""
    from transformers import DataCollatorWithPadding, PrinterCallback

    StepTimer, _, LiveCurve = _callbacks_module()
    throughput = Throughput(tokenizer.pad_token_id)
    trainer = _make_trainer_class()(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                                    data_collator=DataCollatorWithPadding(tokenizer),
                                    callbacks=[StepTimer(throughput), LiveCurve(live, title="classifier")])
    trainer.throughput = throughput
    trainer.remove_callback(PrinterCallback)
    return trainer, throughput


def train_classifier(texts, labels, label_names, runtime=None, learning_rate: float | None = None,
                     epochs: float | None = None, max_length: int = 128, encoder: str = "minilm-l6",
                     live: str = "auto", output_dir=None, attention: str | None = None) -> ClassifierResult:
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
        attention: the encoder's attention kernel (``None``: SDPA; see ``models.load_classifier``).

    Evaluate the result with ``evaluation.predict_classes`` and ``evaluation.classification_metrics``.
    """
    from transformers import set_seed

    from .. import models, paths
    from .. import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    prof = rt.profile
    label_names, index, pairs = _labelled_pairs(texts, labels, label_names, prof.train_examples, rt.seed)
    set_seed(rt.seed)
    model, tokenizer = models.load_classifier(label_names, name=encoder, runtime=rt, attention=attention)
    encoded = tokenizer([t for t, _ in pairs], truncation=True, max_length=max_length)
    rows = [{"input_ids": ids, "attention_mask": mask, "labels": index[label]}
            for ids, mask, (_, label) in zip(encoded["input_ids"], encoded["attention_mask"], pairs)]
    out = Path(output_dir) if output_dir is not None else paths.output_dir("classifier")
    args = _classifier_arguments(out, prof, rt, epochs, learning_rate)
    trainer, throughput = _classifier_trainer(model, tokenizer, rows, args, live)
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
