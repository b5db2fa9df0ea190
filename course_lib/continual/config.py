"""One retraining job (:class:`RetrainConfig`) and what it did (:class:`RetrainResult`) (notebook 07)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .gate import GateDecision, PromotionGate
from .registry import RunRecord
from .replay import ReplayMix, forgetting


@dataclass
class RetrainConfig:
    """One retraining job (what ``python -m course_lib retrain`` builds from its arguments).

    Attributes:
        base: the run to start from: a folder (``train`` output or a version folder), a version name in ``out``,
            or ``"production"`` (the version ``out`` serves now).
        new_data: the new instruction records (path or list of dicts).
        out: the versioned runs folder (``registry.json`` + ``v001``, ``v002``, ...).
        replay: old examples added per new example (0 = new data alone; see :func:`mix_replay`).
        old_data: the data the base was trained on: a path, a list of records, or a list of paths (oldest first).
            It is the replay pool and, held out file by file with the same seed as :func:`course_lib.train.train`
            and earlier retrainings held out their test sets, the old test set that measures forgetting.
            ``None``: every file in the ``train_data`` the base's ``run.json`` records — the original data and
            each batch earlier retrainings added — so a chain of retrainings replays all of its history.
        old_test: the old examples the base never trained on, when its run held out its test set some other way
            than :func:`course_lib.train.split_records` (notebook 07 reuses notebook 03's adapter, whose test set
            is the test part of a stratified split). They are the old test set as given, and ``old_data`` minus
            them is the replay pool. ``None``: each old file is split as described under ``old_data``.
        columns: course field -> file column for every file read from a path, new and old (``retrain --map``);
            ``None``: common column names are detected (:func:`course_lib.data.resolve_columns`).
        gate: the promotion rule.
        train_config: a :class:`course_lib.train.TrainConfig` (``None``: LoRA, ``retrain_steps`` optimiser steps
            from the profile, the profile's learning rate).
        test_examples: size of each test set (``None``: the profile's ``eval_examples``, else 50).
        old_test_examples: measure forgetting on at most this many of the old test pairs (``None``: all); the others
            still stay out of the replay pool (notebook 07 passes the profile's ``forgetting_examples``).
        drop_superseded: leave old examples about facts the new data teaches (shared ``fact_ids``) out of the
            replay pool and the old test set (:func:`drop_superseded`); the new test set measures those facts.
        known_pii: values that must not appear in the training set (e.g. every value planted in a raw export),
            checked by :func:`training_set_pii` on top of its PII detector.
        keep_checkpoints: keep ``checkpoints/`` in the version folder (off: they hold optimiser states, ~3x the
            adapter's size, and a finished run does not need them).
    """

    base: str | os.PathLike
    new_data: object
    out: str | os.PathLike
    replay: float = 0.0
    old_data: object = None
    old_test: list | None = None
    columns: dict | None = None
    gate: PromotionGate = field(default_factory=PromotionGate)
    train_config: object = None
    test_examples: int | None = None
    old_test_examples: int | None = None
    drop_superseded: bool = True
    known_pii: tuple = ()
    keep_checkpoints: bool = False


@dataclass
class RetrainResult:
    """What :func:`retrain` did: the recorded version, the gate's decision and the numbers behind it.

    ``base_metrics`` / ``candidate_metrics``: ``old_loss`` and ``new_loss`` (nats per answer token) of the run
    retrained from and of the new version. ``production_metrics``: of the version in production when the gate
    ran (the gate compares against it; the same as ``base_metrics`` when the base is production).
    ``forgetting`` is the candidate's old-test loss minus the base's (> 0 = forgot). ``n_superseded``: old
    examples left out because the new data changes their facts.
    """

    record: RunRecord
    decision: GateDecision
    folder: Path
    base_metrics: dict
    candidate_metrics: dict
    production_metrics: dict
    production_version: str | None
    mix: ReplayMix
    n_superseded: int
    train_summary: dict
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)

    @property
    def forgetting(self) -> float:
        return forgetting(self.base_metrics["old_loss"], self.candidate_metrics["old_loss"])
