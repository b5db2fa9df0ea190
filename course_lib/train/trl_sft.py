"""TRL's ``SFTTrainer`` side by side with the course's trainer: one LoRA run, two code paths (notebook 09).

The course path (:func:`course_lib.train.train`) tokenizes each record itself (``formatting.tokenize_example``:
labels -100 on the prompt, the answer and its end-of-turn token trained) and trains with its own ``Trainer``
subclass. The TRL path hands a *prompt-completion* ``datasets.Dataset`` (``formatting.prompt_completion_columns``)
to ``trl.SFTTrainer`` with ``completion_only_loss=True``: TRL tokenizes, masks the prompt, truncates to
``max_length`` and pads. Both paths start from a freshly loaded model with the same LoRA adapters
(:func:`~course_lib.train.adapters.lora_config`), the same ``TrainingArguments``
(:func:`~course_lib.train.config.training_argument_kwargs`; ``SFTConfig`` is a subclass) and the same seed, on
the same rows in the same batches.

Which tokens are trained depends on the dataset's form. In the *text* form (the chat template applied by
``formatting.prompt_completion(..., tokenizer)``) TRL trains exactly the course's tokens, and the two loss curves
differ only by float rounding (:func:`eval_loss_tolerance`). In the *conversational* form TRL renders the
template itself, and SmolLM2's template writes a newline after ``<|im_end|>``: TRL keeps it as one more
completion token, nearly free to predict, so its mean loss per token is lower on every example whose answer fits
in ``max_length`` (0.11-0.13 nats lower at the cpu profile's 192 tokens, measured on 2026-12-02 over 4 steps).

torch, transformers, datasets, peft and trl are imported inside functions, so ``import course_lib.train`` stays
cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .adapters import lora_config, quiet_peft_warning
from .config import TrainConfig, quiet_checkpointing_deprecation, training_argument_kwargs
from .measure import PeakMemory
from .run import TrainResult, _final_metrics, train

# The largest |course - TRL| eval loss allowed at any evaluation of the same run on the same tokens, in nats per
# trained token, by training precision. fp32: measured 2e-5 (notebook 09 on 2026-12-02: smoke, 4 steps, every
# answer cut at 64 tokens; cpu, 8 steps, all 60 scored answers whole), rounding only (the two paths sum the same
# cross-entropies in another order); 1e-3 leaves room for longer runs. bf16/fp16 (GPUs, bf16 CPUs): not measured
# yet; autocast rounds every matmul to ~3 significant digits, so 0.05 (about 1.5 % of a 3.5-nat loss) is a guess
# to replace with a measurement.
EVAL_LOSS_TOLERANCE = {"fp32": 1e-3, "bf16": 0.05, "fp16": 0.05}

# The columns of TRL's prompt-completion format (formatting.prompt_completion writes them, in either form).
PROMPT_COMPLETION = ("prompt", "completion")


def comparison_config(profile, system_prompt: str | None = None) -> TrainConfig:
    """The LoRA run both paths make: ``profile.trl_steps`` optimiser steps, evaluated at step 0 and every
    ``ceil(steps / 3)`` steps (at most three more points per curve), batches in a seeded random order (the same
    batches on both paths; with length-grouped batches the two paths drew different ones, measured in smoke), no
    checkpoints and no saved adapter (only curves and costs are compared), no live curve (TRL's path has none)."""
    steps = profile.trl_steps
    return TrainConfig(method="lora", system_prompt=system_prompt, max_steps=steps, group_by_length=False,
                       eval_steps=max(1, math.ceil(steps / 3)), save_steps=10**9, save_final=False, live="off")


def sft_argument_kwargs(config: TrainConfig) -> dict:
    """The ``SFTConfig`` arguments that ``TrainingArguments`` lacks or where TRL's default differs from the course's.

    ``config`` is resolved (:meth:`TrainConfig.resolve`). Checked by tests/test_api_drift.py.
    """
    return dict(
        max_length=config.max_seq_len,  # the course's max_seq_len: TRL keeps the start, the answer's tail is cut
        completion_only_loss=True,  # the loss on the completion only: the course's response-only labels
        assistant_only_loss=False,  # for "messages" data; needs {% generation %} marks, SmolLM2's template has none
        packing=config.packing,
        # SFTConfig turns gradient checkpointing on by default; the course's trainer does not checkpoint, so it
        # stays off here, else TRL would recompute every block's forward in the backward (slower, less memory).
        # The old name: transformers 5.23 renamed it activation_checkpointing and keeps this one as an alias, so
        # every transformers 5 release accepts it (make test-min found 5.2-5.22 without the new name).
        gradient_checkpointing=False,
        # TRL keeps only input_ids/labels (its signature columns); the course passes False because its rows are
        # already only model inputs.
        remove_unused_columns=True,
    )


def sft_config(config: TrainConfig, runtime, output_dir, has_eval: bool = True):
    """``trl.SFTConfig``: the course's ``TrainingArguments``, with :func:`sft_argument_kwargs` added or replacing.

    Precision is the course's (``bf16``/``fp16`` from the runtime): SFTConfig's own default would be bf16 on.
    """
    from trl import SFTConfig

    with quiet_checkpointing_deprecation():
        return SFTConfig(**{**training_argument_kwargs(config, runtime, output_dir, has_eval),
                            **sft_argument_kwargs(config)})


@dataclass
class SftRun:
    """What one ``SFTTrainer`` run measured; the counterpart of :class:`~course_lib.train.run.TrainResult`.

    Attributes:
        metrics: ``eval_loss_start`` (before step 1), ``train_loss`` (mean over the run), ``eval_loss`` (last),
            ``steps``, ``epoch``.
        log_history: the Trainer's log entries (TRL adds ``entropy``, ``mean_token_accuracy``, ``num_tokens``).
        trainable_params: LoRA parameters.
        seconds: wall-clock time of ``trainer.train`` (its evaluations included, as in ``TrainResult``).
        peak_memory_bytes / start_memory_bytes / memory_kind: see :class:`~course_lib.train.measure.PeakMemory`.
    """

    metrics: dict
    log_history: list
    trainable_params: int
    seconds: float
    peak_memory_bytes: int
    start_memory_bytes: int
    memory_kind: str
    model: object = field(default=None, repr=False)


def _sft_trainer(model, tokenizer, train_dataset, eval_dataset, config: TrainConfig, runtime, output_dir):
    """``trl.SFTTrainer`` on prompt-completion datasets with the course's LoRA config as ``peft_config``.

    SFTTrainer seeds with ``args.seed`` and then wraps the model with peft, as the course's ``prepare_model``
    seeds before it does: the adapters start from the same ``A`` matrices on both paths.
    """
    from transformers import PrinterCallback
    from trl import SFTTrainer

    args = sft_config(config, runtime, output_dir, has_eval=eval_dataset is not None)
    with quiet_peft_warning():
        trainer = SFTTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                             processing_class=tokenizer, peft_config=lora_config(model, config))
    trainer.remove_callback(PrinterCallback)  # with tqdm off the Trainer would print raw dicts
    return trainer


def sft_train(train_dataset, eval_dataset, config: TrainConfig, runtime, output_dir, model=None,
              tokenizer=None) -> SftRun:
    """Train with TRL's ``SFTTrainer``: the eval loss at step 0, then ``trainer.train`` under :class:`PeakMemory`.

    ``train_dataset`` / ``eval_dataset``: ``datasets.Dataset`` with ``prompt`` and ``completion`` columns
    (either form of ``formatting.prompt_completion``); ``config``: resolved; ``model``/``tokenizer``: a
    freshly loaded decoder (default: the profile's).
    """
    from .. import models

    if model is None or tokenizer is None:
        model, tokenizer = models.load_causal_lm(runtime.profile.decoder, runtime=runtime, verbose=False)
    trainer = _sft_trainer(model, tokenizer, train_dataset, eval_dataset, config, runtime, output_dir)
    has_eval = eval_dataset is not None
    metrics = {"eval_loss_start": trainer.evaluate()["eval_loss"]} if has_eval else {}
    trainer.state.log_history.clear()  # as the course's run: the curve starts at step 0 with training
    start = time.perf_counter()
    with PeakMemory(runtime.device) as memory:
        output = trainer.train()
    seconds = time.perf_counter() - start
    metrics = _final_metrics(trainer, output, has_eval, metrics)
    return SftRun(metrics=metrics, log_history=list(trainer.state.log_history),
                  trainable_params=models.count_parameters(trainer.model).trainable, seconds=seconds,
                  peak_memory_bytes=memory.peak_bytes, start_memory_bytes=memory.start_bytes,
                  memory_kind=memory.kind, model=trainer.model)


@dataclass
class SideBySide:
    """The same LoRA run through the course's trainer and through TRL's ``SFTTrainer``.

    Attributes:
        course: the course path's :class:`~course_lib.train.run.TrainResult`.
        trl: the TRL path's :class:`SftRun`.
        train_rows / eval_rows: how many rows both paths trained on and scored.
        precision: the runtime's training precision (``"fp32"``, ``"bf16"``, ``"fp16"``).
    """

    course: TrainResult
    trl: SftRun
    train_rows: int
    eval_rows: int
    precision: str

    def histories(self) -> dict:
        """``{"course": table, "TRL SFTTrainer": table}``: each path's ``plotting.history_table`` with the eval loss
        before training added at step 0 (for ``plotting.compare_curves``)."""
        import pandas as pd

        from ..plotting import history_table

        tables = {}
        for name, run in (("course", self.course), ("TRL SFTTrainer", self.trl)):
            table = history_table(run.log_history)
            start = pd.DataFrame({"eval_loss": [run.metrics.get("eval_loss_start")]}, index=pd.Index([0], name="step"))
            tables[name] = pd.concat([start, table]).sort_index()
        return tables

    def curves(self):
        """Eval and training loss of both paths by optimiser step (nats per trained token), and their gaps.

        Columns ``course eval``, ``TRL eval``, ``|Δ eval|``, ``course train``, ``TRL train``, ``|Δ train|``;
        step 0 is the eval loss before training. A training loss is logged every ``logging_steps``.
        """
        import pandas as pd

        course, trl = self.histories().values()
        table = pd.DataFrame({"course eval": course["eval_loss"], "TRL eval": trl["eval_loss"],
                              "course train": course["train_loss"], "TRL train": trl["train_loss"]})
        table.insert(2, "|Δ eval|", (table["course eval"] - table["TRL eval"]).abs())
        table["|Δ train|"] = (table["course train"] - table["TRL train"]).abs()
        return table

    @property
    def tolerance(self) -> float:
        """The gap this run's precision allows (:data:`EVAL_LOSS_TOLERANCE`), in nats."""
        return EVAL_LOSS_TOLERANCE[self.precision]

    @property
    def max_eval_gap(self) -> float:
        """The largest |course - TRL| eval loss over the evaluations both made, in nats."""
        return float(self.curves()["|Δ eval|"].max())

    def costs(self):
        """One row per path: seconds of ``trainer.train`` (evaluations included), seconds per step, peak memory
        and what training added to it (MB), trainable parameters, mean training loss and last eval loss."""
        import pandas as pd

        rows = {}
        for name, run in (("course", self.course), ("TRL SFTTrainer", self.trl)):
            steps = run.metrics["steps"]
            rows[name] = {"seconds": run.seconds, "s/step": run.seconds / max(1, steps), "steps": steps,
                          "peak MB": run.peak_memory_bytes / 2**20,
                          "added MB": (run.peak_memory_bytes - run.start_memory_bytes) / 2**20,
                          "trainable params": run.trainable_params, "train loss": run.metrics["train_loss"],
                          "eval loss": run.metrics.get("eval_loss")}
        return pd.DataFrame(rows).T


def _take(dataset, n: int | None, seed: int):
    """The first ``n`` rows of ``dataset`` shuffled with ``seed`` (all of them, shuffled, when ``n`` is ``None``)."""
    shuffled = dataset.shuffle(seed=seed)
    return shuffled if n is None or n >= len(shuffled) else shuffled.select(range(n))


def _course_records(dataset, config: TrainConfig, tokenizer) -> list[dict]:
    """The rows of a prompt-completion ``dataset`` as course records (its other columns), checked to be the rows
    its ``prompt``/``completion`` columns were built from with ``config.system_prompt`` (conversational, or as
    text rendered with ``tokenizer``'s chat template)."""
    from .. import formatting

    missing = [c for c in (*PROMPT_COMPLETION, "instruction", "output") if c not in dataset.column_names]
    if missing:
        raise ConfigError(f"the dataset has no {missing} column(s) (it has {dataset.column_names}) — build it with "
                          "dataset.map(formatting.prompt_completion_columns, batched=True) from instruction "
                          "records, keeping their columns")
    records = dataset.remove_columns(list(PROMPT_COMPLETION)).to_list()
    first = {k: dataset[0][k] for k in PROMPT_COMPLETION}
    as_text = isinstance(first["prompt"], str)
    if formatting.prompt_completion(records[0], config.system_prompt, tokenizer if as_text else None) != first:
        raise ConfigError("the dataset's prompt/completion columns were not built from its records with this "
                          f"system prompt ({config.system_prompt!r}) — map with fn_kwargs={{'system_prompt': ...}} "
                          "set to the TrainConfig's system_prompt")
    return records


def side_by_side(train_dataset, eval_dataset, config: TrainConfig, runtime, output_dir) -> SideBySide:
    """Train the same LoRA run through the course's trainer, then through TRL's ``SFTTrainer``; compare them.

    Args:
        train_dataset / eval_dataset: ``datasets.Dataset`` of instruction records with the ``prompt`` and
            ``completion`` columns of ``formatting.prompt_completion_columns`` added; each path takes the
            config's ``train_examples`` / ``eval_examples`` of the same shuffled rows (seeded by the runtime).
        config: e.g. :func:`comparison_config`; resolved against the runtime's profile here.
        runtime: from ``runtime.setup``.
        output_dir: ``course/`` and ``trl/`` run folders go under it.

    Each path trains a freshly loaded copy of the profile's decoder. The course path runs first; the model of each
    run is kept in its result.
    """
    from .. import models

    cfg = config.resolve(runtime.profile)
    train_rows = _take(train_dataset, cfg.train_examples, runtime.seed)
    eval_rows = _take(eval_dataset, cfg.eval_examples, runtime.seed)
    out = Path(output_dir)
    model, tokenizer = models.load_causal_lm(runtime.profile.decoder, runtime=runtime, verbose=False)  # TRL's copy
    records = _course_records(train_rows, cfg, tokenizer), _course_records(eval_rows, cfg, tokenizer)
    course = train(*records, config=cfg, runtime=runtime, output_dir=out / "course")
    trl_run = sft_train(train_rows.select_columns(list(PROMPT_COMPLETION)),
                        eval_rows.select_columns(list(PROMPT_COMPLETION)), cfg, runtime, out / "trl", model, tokenizer)
    return SideBySide(course=course, trl=trl_run, train_rows=len(train_rows), eval_rows=len(eval_rows),
                      precision=runtime.precision)
