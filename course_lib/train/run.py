"""One training run: :func:`train` (records -> trained, checked, saved model) and its :class:`TrainResult`.

Taught in notebook 03; notebooks 05 and 07 and ``python -m course_lib train`` (:func:`run_train`) train through it.
The steps::

    inputs (records, config, runtime) -> resume point -> features (tokenized, packed?) -> Trainer with callbacks
        -> starting eval -> trainer.train under PeakMemory -> weight-change check -> final eval -> saved files
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..files import write_json_atomic
from ..paths import RunDir
from .adapters import folder_size_bytes, prepare_model, save_trained
from .callbacks import _callbacks_module
from .checkpoints import checkpoint_step, resume_point
from .compiled import CompiledBlocks
from .config import TrainConfig, training_arguments
from .frozen import Bf16FrozenCopies
from .measure import PeakMemory, Throughput
from .records import _subsample, read_records, split_records
from .trainer import TrainingFailed, _make_trainer_class
from .weights import _changed_tensors, _snapshot


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
        from ..plotting import history_table

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


def _resolve_inputs(train_records, eval_records, config, runtime):
    """``(runtime, resolved config, train records, eval records)`` for :func:`train`: paths read, an eval set held
    out of the training records when none is given, both subsampled to the config's budgets."""
    from .. import distributed
    from .. import runtime as runtime_mod

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
    return rt, cfg, train_records, eval_records


def _features(train_records, eval_records, model, tokenizer, cfg):
    """``(train rows, eval rows, collator, tokenize report)``: tokenized with response-only labels into
    ``datasets.Dataset`` objects; packed several to a row when ``cfg.packing`` (checked leak-free on the model
    first), else padded batch by batch."""
    from .. import formatting

    # The ecosystem's idiom (notebook 03): Dataset.map(tokenize_columns, batched=True); the Trainer takes the Dataset.
    train_features, report = formatting.tokenize_to_dataset(train_records, tokenizer, cfg.max_seq_len,
                                                            cfg.system_prompt)
    eval_features = (formatting.tokenize_to_dataset(eval_records, tokenizer, cfg.max_seq_len, cfg.system_prompt)[0]
                     if eval_records else [])
    if cfg.packing:  # first-fit packing works on a list of features
        features = train_features.to_list()
        formatting.verify_packing(model, features[:3], tokenizer.pad_token_id)
        train_rows = formatting.pack_examples(features, cfg.max_seq_len)
        eval_rows = formatting.pack_examples(eval_features.to_list(), cfg.max_seq_len) if eval_features else []
        collator = formatting.PackedCollator(tokenizer.pad_token_id)
    else:
        train_rows, eval_rows = train_features, eval_features
        collator = formatting.CausalCollator(tokenizer.pad_token_id)
    return train_rows, eval_rows, collator, report


def _build_trainer(model, tokenizer, cfg, rt, ckpt_dir, data, callbacks, title):
    """``(trainer, throughput, parameter counts)``: ``model`` made trainable by ``cfg.method`` (seeded), inside the
    course's Trainer with its callbacks. ``data``: ``(train rows, eval rows, collator)`` from :func:`_features`."""
    from transformers import EarlyStoppingCallback, PrinterCallback, set_seed

    from .. import models

    train_rows, eval_rows, collator = data
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
    return trainer, throughput, counts


def _bf16_frozen_weights(cfg, rt, trainer) -> bool:
    """Whether this run stores its frozen linear weights in bf16 (``TrainConfig.bf16_frozen_weights``): only under
    bf16 autocast (in fp32 a bf16 weight would meet fp32 inputs) and in a single process (FSDP2 shards the weights
    into its own tensors)."""
    from .. import runtime as runtime_mod

    wanted = cfg.bf16_frozen_weights
    if wanted is None:
        wanted = runtime_mod.frozen_weights_in_bf16(rt.device, rt.precision)
    return bool(wanted) and rt.precision == "bf16" and trainer.args.world_size == 1


# Steps a run needs before compiling its blocks pays: a compile costs ~7 s once inductor's on-disk cache holds the
# kernels (40-60 s the first time on a machine) and saves ~0.3 s a step of 8 rows (2-core AMX Xeon, 2026-12-07).
COMPILE_MIN_STEPS = 50


def _planned_steps(trainer) -> int:
    """Optimiser steps ``trainer.train()`` will take: ``max_steps``, or the epochs over the training rows."""
    args = trainer.args
    if args.max_steps > 0:
        return args.max_steps
    rows_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    return math.ceil(math.ceil(len(trainer.train_dataset) / rows_per_step) * args.num_train_epochs)


def _compiles_blocks(cfg, rt, trainer) -> bool:
    """Whether this run's training steps use compiled decoder blocks (``TrainConfig.compile_blocks``): in a single
    process only (under DDP/FSDP the forward goes through the wrapper, which the compiled call does not know)."""
    from .. import runtime as runtime_mod

    wanted = cfg.compile_blocks
    if wanted is None:
        wanted = (runtime_mod.compiled_training_pays(rt.device, rt.precision)
                  and _planned_steps(trainer) >= COMPILE_MIN_STEPS)
    return bool(wanted) and trainer.args.world_size == 1


def _start_run(trainer, out: Path, cfg, rt, resume: bool, resume_from, main: bool, has_eval: bool) -> dict:
    """Prepare the run folder (main process: old checkpoints gone unless resuming, ``train_config.json``) and
    measure the eval loss before the first step; returns the metrics so far."""
    run = RunDir(out)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and run.checkpoints.exists():
            shutil.rmtree(run.checkpoints)
        write_json_atomic(run.train_config, {"config": cfg.to_dict(), "seed": rt.seed, "profile": rt.profile.name})
    metrics: dict = {}
    if has_eval and resume_from is None and cfg.eval_at_start:
        metrics["eval_loss_start"] = _finite(trainer.evaluate()["eval_loss"])
        trainer.state.log_history.clear()  # the curve starts at step 0 with training; keep the number aside
    return metrics


def _train_and_check(trainer, rt, cfg, resume_from, throughput):
    """``trainer.train`` under :class:`PeakMemory`: ``(train output, seconds, memory)``.

    Raises :class:`TrainingFailed` when the run took steps but no trainable weight changed.
    """
    from .. import distributed

    snap = _snapshot(trainer.model)
    start = time.perf_counter()
    with PeakMemory(rt.device) as memory:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    distributed.combine_throughput(throughput)  # several processes: the whole job's tokens/s
    if resume_from is None or trainer.state.global_step > checkpoint_step(resume_from):
        if _changed_tensors(trainer.model, snap) == 0:
            raise TrainingFailed(f"no trainable weight changed in {trainer.state.global_step} steps (learning rate "
                                 f"{cfg.learning_rate}) — check that the learning rate is > 0 and that the "
                                 "answers are not all masked")
    return output, seconds, memory


def _final_metrics(trainer, output, has_eval: bool, metrics: dict) -> dict:
    """``metrics`` with the run's mean training loss, steps, epoch, last eval loss (measured now if the last
    evaluation was before the last step) and ``compiled_blocks``: whether its steps ended on compiled decoder blocks
    (the stamp's ``compiles_long_training_runs`` says whether the machine compiles runs long enough; a failed
    compile is False)."""
    metrics.update({"train_loss": _finite(output.training_loss), "steps": trainer.state.global_step,
                    "epoch": round(float(trainer.state.epoch or 0), 3),
                    "compiled_blocks": getattr(trainer, "compiled_blocks", None) is not None})  # TRL's: none
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    if has_eval and (not evals or trainer.state.log_history[-1].get("step") != trainer.state.global_step):
        evals.append(trainer.evaluate()["eval_loss"])
    if evals:
        metrics["eval_loss"] = _finite(evals[-1])
    return metrics


def _save_final(trainer, tokenizer, out: Path, cfg, rt, main: bool) -> Path | None:
    """Save the final ``adapter/`` or ``model/`` (when ``cfg.save_final``) and ``history.json``; the final folder."""
    from .. import distributed

    run = RunDir(out)
    final_dir = None
    # Under FSDP2 each process holds a shard of every weight: gather them (every process takes part) for rank 0.
    gathered = distributed.full_state_dict(trainer.model) if cfg.save_final else None
    if main:
        if cfg.save_final:
            final_dir = save_trained(trainer.model, tokenizer, run.final(cfg.method), state_dict=gathered,
                                     base_model=rt.profile.decoder)
        write_json_atomic(run.history, trainer.state.log_history)
    return final_dir


def _write_summary(result: TrainResult, rt, cfg, report, resume_from) -> None:
    """Write ``metrics.json`` and ``stamp.json`` into the run folder; sets ``result.stamp_path``."""
    out = result.output_dir
    write_json_atomic(RunDir(out).metrics, result.summary())
    result.stamp_path = rt.write_stamp(out, extra={"train": result.summary(), "train_config": cfg.to_dict(),
                                                   "tokenize_report": str(report),
                                                   "resumed_from": str(resume_from) if resume_from else None})


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
    from .. import models, paths

    rt, cfg, train_records, eval_records = _resolve_inputs(train_records, eval_records, config, runtime)
    out = Path(output_dir) if output_dir is not None else paths.output_dir("train", cfg.method)
    resume_from = resume_point(out, cfg.to_dict(), rt.seed, resume)
    if model is None or tokenizer is None:
        model, tokenizer = models.load_causal_lm(rt.profile.decoder, runtime=rt, verbose=False)
    train_rows, eval_rows, collator, report = _features(train_records, eval_records, model, tokenizer, cfg)
    trainer, throughput, counts = _build_trainer(model, tokenizer, cfg, rt, RunDir(out).checkpoints,
                                                 (train_rows, eval_rows, collator), callbacks, title)
    main = trainer.is_world_process_zero()
    if _bf16_frozen_weights(cfg, rt, trainer):
        trainer.frozen_bf16 = Bf16FrozenCopies(trainer.model)
    if _compiles_blocks(cfg, rt, trainer):
        trainer.compiled_blocks = CompiledBlocks(trainer.model)
    metrics = _start_run(trainer, out, cfg, rt, resume, resume_from, main, has_eval=bool(eval_rows))
    output, seconds, memory = _train_and_check(trainer, rt, cfg, resume_from, throughput)
    _final_metrics(trainer, output, bool(eval_rows), metrics)
    trainer.frozen_bf16 = None  # the copies are freed; the returned model computes in fp32 as it was given
    trainer.compiled_blocks = None  # the returned model's blocks are eager (they are, outside the steps)
    final_dir = _save_final(trainer, tokenizer, out, cfg, rt, main)
    result = TrainResult(
        method=cfg.method, config=cfg.to_dict(), metrics=metrics, log_history=list(trainer.state.log_history),
        trainable_params=counts.trainable, total_params=counts.total, peak_memory_bytes=memory.peak_bytes,
        start_memory_bytes=memory.start_bytes, memory_kind=memory.kind, seconds=seconds,
        useful_tokens_per_s=throughput.useful_per_s, computed_tokens_per_s=throughput.computed_per_s,
        useful_tokens=throughput.useful, output_dir=out, final_dir=final_dir, stamp_path=None,
        resumed_from=resume_from, tokenize_report=str(report), model=trainer.model, tokenizer=tokenizer)
    if main:
        _write_summary(result, rt, cfg, report, resume_from)
    result.model.eval()
    return result


def run_train(args) -> int:
    """Handler of ``python -m course_lib train`` (same code path as the notebooks)."""
    from .. import data
    from .. import runtime as runtime_mod

    if args.method not in ("lora", "full"):
        raise ConfigError(f"unknown method {args.method!r} — use lora or full")
    if args.profile != "auto":
        runtime_mod.get_profile(args.profile)
    columns = data.parse_mapping(args.map)
    records = read_records(args.data, columns)  # fail on bad data before loading torch-heavy parts
    eval_records = read_records(args.eval_data, columns) if args.eval_data else None
    from ..distributed import is_main_process

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
    print(f"saved: {result.final_dir}  metrics: {RunDir(result.output_dir).metrics}")
    return 0
