"""paths.RunDir: the one home of a training run's file and folder names (fast, nothing is written)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from course_lib import continual, paths, train
from course_lib.paths import RunDir


def test_rundir_names_every_file_of_a_run(tmp_path):
    run = RunDir(tmp_path)
    assert run.checkpoints == tmp_path / "checkpoints"
    assert run.adapter == tmp_path / "adapter"
    assert run.model == tmp_path / "model"
    assert run.base_model_file == tmp_path / "adapter" / "course_base_model.txt"
    assert run.train_config == tmp_path / "train_config.json"
    assert run.history == tmp_path / "history.json"
    assert run.metrics == tmp_path / "metrics.json"
    assert run.stamp == tmp_path / "stamp.json"
    assert run.lineage == tmp_path / "lineage.json"
    assert run.run_info == tmp_path / "run.json"
    assert RunDir.BASE_MODEL_FILE == "course_base_model.txt"
    assert (RunDir.ADAPTER_CONFIG_FILE, RunDir.MODEL_CONFIG_FILE) == ("adapter_config.json", "config.json")


def test_final_folder_follows_the_method(tmp_path):
    run = RunDir(tmp_path)
    assert run.final("lora") == run.adapter
    assert run.final("full") == run.model
    assert (RunDir.final_name("lora"), RunDir.final_name("full")) == ("adapter", "model")


def test_parents_are_numbered_two_digits_as_lineage_lists_them(tmp_path):
    run = RunDir(tmp_path)
    assert RunDir.parent_name(0) == "parents/00"
    assert RunDir.parent_name(12) == "parents/12"
    assert run.parent(3) == tmp_path / "parents" / "03"


def test_rundir_is_frozen_takes_strings_and_creates_nothing(tmp_path):
    run = RunDir(str(tmp_path / "run"))
    assert isinstance(run.folder, Path) and run.folder == tmp_path / "run"
    assert run == RunDir(tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.folder = tmp_path  # type: ignore[misc]


def test_old_names_still_importable_and_agree():
    assert train.CHECKPOINT_DIR == RunDir.CHECKPOINTS
    assert continual.LINEAGE_FILE == RunDir.LINEAGE_FILE
    assert continual.RUN_FILE == RunDir.RUN_FILE
    assert paths.RunDir is RunDir


def test_find_saved_run_reads_the_layout(tmp_path):
    run = RunDir(tmp_path)
    run.adapter.mkdir()
    run.train_config.write_text('{"config": {"method": "lora"}, "profile": "smoke"}', encoding="utf-8")
    assert train.find_saved_run(tmp_path, "lora", "smoke") == run.adapter
    assert train.find_saved_run(tmp_path, "full") is None
