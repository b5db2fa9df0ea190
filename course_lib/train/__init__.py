"""Fine-tuning with the Hugging Face Trainer: LoRA or full, from the profile's budget, resumable, checked.

Taught in notebook 03; notebooks 04-07 and ``python -m course_lib train`` train through it.

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

One concern per module; every name is used as ``course_lib.train.<name>``, re-exported below:

* ``config``: :class:`TrainConfig`, ``DEFAULT_TARGET_MODULES``, :func:`choose_optimizer`, :func:`training_arguments`
  (and its keywords, :func:`training_argument_kwargs`)
* ``measure``: :class:`PeakMemory`, :class:`Throughput`
* ``trainer``: the Trainer subclass, :func:`labelled_positions_loss`, :class:`TrainingFailed`
* ``callbacks``: step timer, checkpoint marker, live curve
* ``checkpoints``: the completion marker, :func:`latest_checkpoint` / :func:`complete_checkpoints`, the resume check
* ``adapters``: :func:`prepare_model`, :func:`lora_config_kwargs`, :func:`top_layers`, :func:`save_trained`,
  :func:`merge_adapter`, :func:`load_trained`
* ``weights``: the weight-change check, :func:`trainable_state`
* ``frozen``: :class:`Bf16FrozenCopies`, the frozen weights in bf16 for each training step under bf16 autocast
  (bf16 CPUs)
* ``compiled``: :class:`CompiledBlocks`, the decoder blocks through ``torch.compile`` in each training step
  (CPUs with AMX), and :func:`decoder_blocks`
* ``records``: :func:`read_records`, :func:`split_records`
* ``compare``: :func:`method_table`, prompts and training runs in one table of costs and scores (03), and
  :func:`size_mb`
* ``run``: :func:`train`, :class:`TrainResult`, :func:`run_train` (the command line)
* ``reuse``: :func:`find_saved_run`, :func:`reuse_or_train`, :class:`TrainedModel`
* ``classifier``: :func:`train_classifier`, :class:`ClassifierResult`, :func:`classifier_argument_kwargs`
* ``dpo``: preference tuning with TRL's DPOTrainer (notebook 08): :class:`DPOTrainConfig`, :func:`train_dpo`,
  :class:`DPOResult`, :func:`dpo_arguments`, :func:`preference_dataset`
* ``trl_sft``: the same LoRA run through TRL's ``SFTTrainer`` side by side with :func:`train` (notebook 09); used
  as ``course_lib.train.trl_sft.<name>`` (not re-exported: its names belong to that one comparison)

A test that replaces a function for a caller patches it where the caller looks it up: ``train.train`` for
``ablation`` and ``continual`` (they call through this package), ``course_lib.train.reuse`` for
:func:`reuse_or_train`.

torch, transformers and peft are imported inside functions, so ``import course_lib.train`` stays cheap.
"""

from .adapters import (folder_size_bytes, load_trained, lora_config, lora_config_kwargs, merge_adapter,
                       prepare_model, quiet_peft_warning, save_trained, top_layers)
from .checkpoints import (CHECKPOINT_DIR, COMPLETE_MARKER, checkpoint_step, complete_checkpoints,
                          latest_checkpoint)
from .classifier import ClassifierResult, classifier_argument_kwargs, train_classifier
from .compare import method_table, size_mb
from .compiled import CompiledBlocks, decoder_blocks
from .config import (DEFAULT_TARGET_MODULES, TrainConfig, choose_optimizer, training_argument_kwargs,
                     training_arguments)
from .dpo import DPOResult, DPOTrainConfig, dpo_arguments, preference_dataset, train_dpo
from .frozen import Bf16FrozenCopies
from .measure import PeakMemory, Throughput
from .records import read_records, split_records
from .reuse import TrainedModel, find_saved_run, reuse_or_train
from .run import TrainResult, run_train, train
from .trainer import TrainingFailed, labelled_positions_loss
# Private helpers that tests and benchmarks reach as train.<name>: the Trainer subclass and its loss shortcut
# (tests/test_train.py, benchmarks/train_throughput.py), the weight-change check (tests/workers/fsdp_lora_step.py).
from .trainer import _causal_lm_parts, _make_trainer_class
from .weights import _changed_tensors, _snapshot, trainable_state

__all__ = [
    "CHECKPOINT_DIR", "COMPLETE_MARKER", "DEFAULT_TARGET_MODULES",
    "Bf16FrozenCopies", "ClassifierResult", "CompiledBlocks", "DPOResult", "DPOTrainConfig", "PeakMemory",
    "Throughput", "TrainConfig", "TrainResult",
    "TrainedModel", "TrainingFailed",
    "checkpoint_step", "choose_optimizer", "classifier_argument_kwargs", "complete_checkpoints", "decoder_blocks",
    "dpo_arguments",
    "find_saved_run", "folder_size_bytes", "labelled_positions_loss", "latest_checkpoint", "load_trained",
    "lora_config", "lora_config_kwargs", "merge_adapter", "method_table", "preference_dataset", "prepare_model",
    "quiet_peft_warning", "read_records", "reuse_or_train", "run_train", "save_trained", "size_mb", "split_records",
    "top_layers", "train", "train_classifier", "train_dpo", "trainable_state", "training_argument_kwargs",
    "training_arguments",
    # private, kept reachable for tests and benchmarks (see above)
    "_causal_lm_parts", "_changed_tensors", "_make_trainer_class", "_snapshot",
]
