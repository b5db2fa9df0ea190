"""Crash safety: where checkpoints go, which of them are complete, and whether a run may resume from them.

A checkpoint counts only once :data:`COMPLETE_MARKER` is written into it after the Trainer finished saving it
(``callbacks.CheckpointMarker``); ``train(resume=True)`` continues from the newest complete one. Taught in
notebook 03 (and tested by killing a run: tests/test_train.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..paths import RunDir

COMPLETE_MARKER = "COURSE_CHECKPOINT_COMPLETE"
CHECKPOINT_DIR = RunDir.CHECKPOINTS  # "checkpoints": the run folder's layout is paths.RunDir's
# Settings that may differ between a crashed run and its resumption: they change what is shown and saved at the
# end, not what is trained.
_COSMETIC = ("live", "save_final", "eval_at_start")


def complete_checkpoints(output_dir) -> list[Path]:
    """Every *complete* checkpoint under ``output_dir/checkpoints`` (one with the completion marker), oldest first.

    A LoRA checkpoint folder holds an adapter that :func:`course_lib.train.load_trained` loads like the final one:
    notebook 06 scores the facts at each of notebook 03's checkpoints (how fast fine-tuning learns them).
    """
    folder = RunDir(output_dir).checkpoints
    if not folder.is_dir():
        return []
    complete = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                and (p / COMPLETE_MARKER).exists()]
    return sorted(complete, key=checkpoint_step)


def latest_checkpoint(output_dir) -> Path | None:
    """The newest *complete* checkpoint under ``output_dir/checkpoints``, or ``None``."""
    complete = complete_checkpoints(output_dir)
    return complete[-1] if complete else None


def checkpoint_step(checkpoint: Path) -> int:
    """The optimiser step a ``checkpoint-<step>`` folder was saved at."""
    return int(checkpoint.name.split("-")[-1])


def resume_point(out: Path, config_dict: dict, seed: int, resume: bool) -> Path | None:
    """The checkpoint ``train(resume=resume)`` continues from in run folder ``out``, or ``None`` (start fresh).

    ``config_dict``: the resolved ``TrainConfig.to_dict()``. Raises :class:`ConfigError` when ``out`` holds
    checkpoints of a run with other settings or another seed (``train_config.json`` records both): resuming it
    would mix two runs.
    """
    resume_from = latest_checkpoint(out) if resume else None
    config_path = RunDir(out).train_config
    if resume_from is not None and config_path.exists():
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        same = {k: v for k, v in saved.get("config", {}).items() if k not in _COSMETIC} == {
            k: v for k, v in config_dict.items() if k not in _COSMETIC}
        if not same or saved.get("seed") != seed:
            raise ConfigError(f"{out} holds checkpoints of a run with different settings — resume with the same "
                              "config, profile and seed, or use resume=False / another output folder")
    return resume_from
