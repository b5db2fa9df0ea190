"""The old data of a retraining: its sources (given, or recorded by the base run) and how each splits into the
replay pool and the old test set, the way its own run held out its test set (notebook 07)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..paths import RunDir
from .config import RetrainConfig
from .replay import drop_superseded


def _records(source, what: str, columns: dict | None = None) -> tuple[list[dict], str]:
    from ..train import read_records

    if isinstance(source, (str, os.PathLike)):
        return read_records(source, columns), str(Path(source).resolve())
    if isinstance(source, list):
        return list(source), f"<{len(source)} {what} records in memory>"
    raise ConfigError(f"{what} data must be a path or a list of records, not {type(source).__name__}")


def _is_path(source) -> bool:
    return isinstance(source, (str, os.PathLike))


def _recorded_train_data(run_folder: Path) -> list[str]:
    """The ``train_data`` a run's ``run.json`` records, oldest first (empty when there is no such file)."""
    run_file = RunDir(run_folder).run_info
    return json.loads(run_file.read_text(encoding="utf-8")).get("train_data", []) if run_file.exists() else []


def _old_sources(old_data, base_folder: Path) -> list:
    """The old data as a list of sources (paths or in-memory record lists), oldest first.

    ``None``: every file the base's ``run.json`` records (its original data, then each retraining's new batch).
    """
    if old_data is not None:
        if isinstance(old_data, (list, tuple)) and old_data and all(_is_path(item) for item in old_data):
            return list(old_data)
        return [old_data]
    recorded = _recorded_train_data(base_folder)
    if not recorded:
        raise ConfigError(f"the base run {base_folder} does not record its training data — pass it with --old "
                          "PATH (needed for replay and to measure forgetting on the old test set)")
    in_memory = [text for text in recorded if text.startswith("<")]
    if in_memory:
        raise ConfigError(f"the base run {base_folder} was trained on records passed in memory ({in_memory[0]}), "
                          "which run.json cannot replay — pass the old data with --old PATH [PATH ...] (Python: "
                          "RetrainConfig(old_data=...))")
    return recorded


def _old_splits(sources: list, new_records: list[dict], n_test: int, seed: int, drop: bool,
                columns: dict | None = None) -> tuple[list[dict], list[dict], int, list[str]]:
    """Split each old source the way its own run did and pool the parts: ``(train, test, n_superseded, texts)``.

    Each file is split with :func:`course_lib.train.split_records` (``n_test`` held out, ``seed``) — the test set
    the run that first trained on it held out, so the old test set stays unseen. With ``drop``, an example whose
    fact a *later* source or the new records change (:func:`drop_superseded`) leaves both parts: an earlier batch's
    answer about a price the next batch revised is no longer true.
    """
    from ..train import split_records

    loaded = [_records(source, "old", columns) for source in sources]
    pooled_train, pooled_test, n_superseded = [], [], 0
    for index, (records, _) in enumerate(loaded):
        part_train, part_test = split_records(records, n_test, seed)
        if drop:
            later = [r for later_records, _ in loaded[index + 1:] for r in later_records] + list(new_records)
            part_train, gone_train = drop_superseded(part_train, later)
            part_test, gone_test = drop_superseded(part_test, later)
            n_superseded += len(gone_train) + len(gone_test)
        pooled_train += part_train
        pooled_test += part_test
    return pooled_train, pooled_test, n_superseded, [text for _, text in loaded]


def _given_old_split(sources: list, old_test: list[dict], new_records: list[dict], drop: bool,
                     columns: dict | None = None) -> tuple[list[dict], list[dict], int, list[str]]:
    """``(train, test, n_superseded, texts)`` when the old test set is given: every old example that is not in it
    is the replay pool; with ``drop``, examples about facts the new records change leave both (as in
    :func:`_old_splits`)."""
    loaded = [_records(source, "old", columns) for source in sources]
    test = list(old_test)
    held_out = {json.dumps(record, sort_keys=True) for record in test}
    pool = [r for records, _ in loaded for r in records if json.dumps(r, sort_keys=True) not in held_out]
    n_superseded = 0
    if drop:
        pool, gone_pool = drop_superseded(pool, new_records)
        test, gone_test = drop_superseded(test, new_records)
        n_superseded = len(gone_pool) + len(gone_test)
    return pool, test, n_superseded, [text for _, text in loaded]


def _split_old(config: RetrainConfig, sources: list, new_records: list[dict], n_test: int, seed: int):
    """The old data's ``(replay pool, test set, n_superseded, source texts)``: the test set given in
    ``config.old_test``, else each file held out the way its run did (:func:`_old_splits`)."""
    if config.old_test is not None:
        return _given_old_split(sources, config.old_test, new_records, config.drop_superseded, config.columns)
    return _old_splits(sources, new_records, n_test, seed, config.drop_superseded, config.columns)
