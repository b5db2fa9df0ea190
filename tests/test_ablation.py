"""Tests of course_lib.ablation: variants share the base settings, the summary reads the right points of each
curve, and the fix table's verdict follows the metric's direction and the threshold."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from course_lib import ablation, train
from course_lib.errors import ConfigError


def _result(evals, train_losses, patience=None, epoch=3.0, seconds=12.34, start=4.0):
    """A stand-in for TrainResult: one log row per evaluation, with the training loss logged at the same step."""
    rows = [{"step": i + 1, "eval_loss": e, "train_loss": t} for i, (e, t) in enumerate(zip(evals, train_losses))]
    return SimpleNamespace(history=lambda: pd.DataFrame(rows).set_index("step"), config={"early_stopping_patience":
                           patience}, metrics={"epoch": epoch, "eval_loss_start": start}, seconds=seconds)


def test_run_trains_the_base_settings_with_one_change(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train, "train", lambda records, validation, config, runtime, output_dir, title:
                        calls.append((records, validation, config, output_dir, title)) or f"result {title}")
    variants = ablation.Ablation(train_records=["a", "b"], validation=["v"], runtime=None, output_dir=tmp_path,
                                 settings={"method": "lora", "learning_rate": 1e-3, "weight_decay": 0.0})
    assert variants.run("weight decay 0.1", weight_decay=0.1) == "result weight decay 0.1"
    variants.run("more data", train_records=["a", "b", "c"])
    (records, validation, config, folder, title), (more, *_) = calls
    assert (records, validation, title) == (["a", "b"], ["v"], "weight decay 0.1")
    assert (config.weight_decay, config.learning_rate, config.method) == (0.1, 1e-3, "lora")
    assert folder == tmp_path / "weight_decay_0.1" and more == ["a", "b", "c"]
    assert list(variants.runs) == ["weight decay 0.1", "more data"]
    assert variants.settings["weight_decay"] == 0.0  # a variant's change does not leak into the base settings


def test_summary_and_table_read_the_end_of_each_curve():
    variants = ablation.Ablation(train_records=[], validation=[], settings={}, runtime=None, output_dir=".")
    variants.runs["base"] = _result([3.0, 2.0, 2.5], [2.0, 1.0, 0.5], start=4.0)  # overfits after epoch 2
    variants.runs["early stopping"] = _result([3.0, 2.0, 2.5], [2.0, 1.0, 0.9], patience=1, start=9.9)
    base = variants.summary("base")
    assert (base["val_loss_end"], base["val_loss_best"], base["train_loss_last"]) == (2.5, 2.0, 0.5)
    assert base["seconds"] == 12.3 and base["val_loss_start"] == 4.0
    stopped = variants.summary("early stopping")
    assert stopped["val_loss_end"] == 2.0  # early stopping reloads its best checkpoint
    assert stopped["val_loss_start"] == 4.0  # the base run's measurement serves every variant
    table = variants.table(baseline="base")
    assert list(table.index) == ["base", "early stopping"]
    assert table["change_vs_base"].tolist() == [0.0, -0.5]
    assert "change_vs_base" not in variants.table(["base"])
    with pytest.raises(ConfigError, match="no run named 'dropout'"):
        variants.summary("dropout")


def test_fix_table_verdict_follows_direction_and_threshold():
    rows = [{"fix": "early stopping", "metric": "validation loss", "base": 4.338, "with_fix": 2.832},
            {"fix": "weight decay", "metric": "validation loss", "base": 4.338, "with_fix": 4.331},  # -0.007
            {"fix": "dropout", "metric": "validation loss", "base": 4.338, "with_fix": 4.343},
            {"fix": "class weights", "metric": "sentiment macro-F1", "base": 0.946, "with_fix": 0.992},
            {"fix": "resampling", "metric": "sentiment macro-F1", "base": 0.946, "with_fix": 0.900}]
    table = ablation.fix_table(rows)
    assert table["helped"].tolist() == [True, False, False, True, False]
    assert table["change"].round(3).tolist() == [-1.506, -0.007, 0.005, 0.046, -0.046]
    assert ablation.fix_table(rows, threshold=0.005)["helped"].tolist()[1]  # -0.007 clears a 0.005 threshold
    with pytest.raises(ConfigError, match="missing: with_fix"):
        ablation.fix_table([{"fix": "x", "metric": "m", "base": 1.0}])
