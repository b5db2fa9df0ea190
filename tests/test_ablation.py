"""Tests of course_lib.ablation: variants share the base settings, the summary reads the right points of each
curve, and the fix table's verdict follows the metric's direction and the threshold."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pandas as pd
import pytest

from course_lib import ablation, train, uncertainty
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


@dataclass
class _Runtime:
    seed: int


def test_each_variant_trains_once_per_seed_and_is_paired_by_seed(tmp_path, monkeypatch):
    calls = []
    ends = {(0, 0.0): 3.0, (1, 0.0): 3.2, (2, 0.0): 2.9, (0, 0.1): 2.5, (1, 0.1): 2.8, (2, 0.1): 2.3}

    def fake_train(records, validation, config, runtime, output_dir, title):
        calls.append((runtime.seed, config.eval_at_start, output_dir.name, title))
        return _result([3.5, ends.get((runtime.seed, config.weight_decay), 3.0)], [2.0, 1.0])

    monkeypatch.setattr(train, "train", fake_train)
    variants = ablation.Ablation(train_records=["a"], validation=["v"], runtime=_Runtime(seed=0), output_dir=tmp_path,
                                 settings={"method": "lora", "weight_decay": 0.0}, seeds=(0, 1, 2))
    first = variants.run("base")
    variants.run("decay", weight_decay=0.1)
    assert calls[:3] == [(0, True, "base", "base"), (1, False, "base_seed1", "base (seed 1)"),
                         (2, False, "base_seed2", "base (seed 2)")]  # the start loss is measured once
    assert variants.runs["base"] is first is variants.seed_runs["base"][0]
    assert variants.seed_values("decay") == [2.5, 2.8, 2.3]
    change = variants.difference("decay", "base")
    assert change.diff == pytest.approx(-0.5) and change.n == 3  # -0.5, -0.4, -0.6: a fall on every seed
    assert change.high < 0
    row = ablation.fix_row("decay", "validation loss", change, over="3 seeds")
    assert (row["base"], row["with_fix"], row["over"]) == (pytest.approx(3.033, abs=1e-3), pytest.approx(2.533, abs=1e-3),
                                                                       "3 seeds")
    assert bool(ablation.fix_table([row])["helped"].iloc[0])
    variants.run("search trial", seeds=(0,), learning_rate=1e-3)
    assert calls[-1][0] == 0 and list(variants.seed_runs["search trial"]) == [0]  # a trial trains once
    assert ablation.Ablation([], [], {}, runtime=None, output_dir=".").all_seeds == (0,)


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


def test_fix_table_helped_means_the_whole_interval_on_the_good_side():
    rows = [{"fix": "early stopping", "metric": "validation loss", "base": 4.3, "with_fix": 2.8, "low": -1.9,
             "high": -1.1},
            {"fix": "weight decay", "metric": "validation loss", "base": 4.3, "with_fix": 4.28, "low": -0.09,
             "high": 0.05},  # straddles 0: not shown to help
            {"fix": "dropout", "metric": "validation loss", "base": 4.3, "with_fix": 4.5, "low": 0.1, "high": 0.3},
            {"fix": "class weights", "metric": "sentiment macro-F1", "base": 0.90, "with_fix": 0.95, "low": 0.01,
             "high": 0.09},
            {"fix": "resampling", "metric": "sentiment macro-F1", "base": 0.90, "with_fix": 0.85, "low": -0.1,
             "high": -0.01},
            {"fix": "one seed", "metric": "validation loss", "base": 4.3, "with_fix": 2.0, "low": float("nan"),
             "high": float("nan")}]
    table = ablation.fix_table(rows)
    assert table["helped"].tolist() == [True, False, False, True, False, False]
    assert table["change"].round(2).tolist() == [-1.5, -0.02, 0.2, 0.05, -0.05, -2.3]
    with pytest.raises(ConfigError, match="missing: low, high"):
        ablation.fix_table([{"fix": "x", "metric": "m", "base": 1.0, "with_fix": 0.5}])
    one = uncertainty.difference_over_seeds([2.0], [3.0])
    assert not ablation.fix_table([ablation.fix_row("x", "validation loss", one, "1 seed")])["helped"].iloc[0]


def test_imbalance_fixes_weighted_and_resampled_heads_against_no_fix():
    import numpy as np

    from course_lib import evaluation

    # 1-D embeddings: six "big" reviews near 0, two "small" ones near 1; held out: one of each
    X = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [0.9], [1.0]])
    y = ["big"] * 6 + ["small"] * 2
    train_rows = pd.DataFrame({"text": [str(i) for i in range(8)], "label": y})
    held = pd.DataFrame({"text": ["a", "b"], "label": ["big", "small"]})
    probe = evaluation.EmbeddingProbe(train_rows, held, X, np.array([[0.1], [0.95]]), ["big", "small"],
                                      evaluation.fit_probe(X, y))
    table, predictions = ablation.imbalance_fixes(probe, seed=0)
    assert list(table.index) == ["no fix", "class-weighted loss", "resampling"]
    assert list(table.columns) == ["accuracy", "macro_f1", "recall_big", "recall_small"]
    assert set(predictions) == set(table.index) and all(len(p) == 2 for p in predictions.values())
    assert list(predictions["no fix"]) == list(probe.classifier.predict(probe.X_held_out))
    # the balanced heads find the small class
    for fix in ("class-weighted loss", "resampling"):
        assert list(predictions[fix]) == ["big", "small"], fix
        assert table.loc[fix, "accuracy"] == 1.0 and table.loc[fix, "recall_small"] == 1.0
    again, _ = ablation.imbalance_fixes(probe, seed=0)
    pd.testing.assert_frame_equal(table, again)  # the resampling is seeded


def test_runs_keep_curves_but_release_the_trained_models(tmp_path, monkeypatch):
    trained = []

    def fake_train(records, validation, config, runtime, output_dir, title):
        trained.append(SimpleNamespace(model=object(), metrics={"epoch": 1.0}))
        return trained[-1]

    monkeypatch.setattr(train, "train", fake_train)
    variants = ablation.Ablation(train_records=["a"], validation=["v"], runtime=_Runtime(seed=0), output_dir=tmp_path,
                                 settings={"method": "lora"}, seeds=(0, 1))
    variants.run("base")
    assert len(trained) == 2 and all(r.model is None for r in trained)  # ~0.5 GB each otherwise, 16 runs in 05
    assert variants.seed_runs["base"][1].metrics == {"epoch": 1.0}
