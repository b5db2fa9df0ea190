"""Reusing an earlier lesson's run: find its saved adapter or model, load it, or train one now.

Taught in notebooks 04 and 06, which start from the model notebook 03 trained when it is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import RunDir
from .adapters import load_trained
from .config import TrainConfig
from .run import train


def find_saved_run(folder, method: str = "lora", profile: str | None = None) -> Path | None:
    """The final ``adapter/`` (LoRA) or ``model/`` (full) folder of a finished :func:`train` run in ``folder``.

    Returns ``None`` when there is none, when ``train_config.json`` is missing, when the run used another method,
    or (with ``profile``) when it was trained in another profile: a smoke adapter (4 steps) must not stand in for
    a cpu one, nor the reverse.
    """
    run = RunDir(folder)
    final = run.final(method)
    config_file = run.train_config
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
    from .. import runtime as runtime_mod

    rt = runtime or runtime_mod.setup("auto")
    cfg = config or TrainConfig()
    final = find_saved_run(saved_run_dir, cfg.method, rt.profile.name) if reuse else None
    if final is not None:
        run_dir = final.parent
        run = RunDir(run_dir)
        saved = json.loads(run.train_config.read_text(encoding="utf-8"))["config"]
        metrics_file, history_file = run.metrics, run.history
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
