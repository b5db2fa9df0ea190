"""Tests of course_lib.plotting: every function returns a Figure, headless, with the data it was given."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from course_lib import evaluation as ev
from course_lib import plotting
from course_lib.errors import ConfigError

LOG = [{"loss": 2.0, "epoch": 0.25, "step": 1}, {"loss": 1.6, "epoch": 0.5, "step": 2},
       {"eval_loss": 1.9, "epoch": 0.5, "step": 2}, {"loss": 1.2, "epoch": 0.75, "step": 3},
       {"loss": 0.9, "epoch": 1.0, "step": 4}, {"eval_loss": 2.1, "epoch": 1.0, "step": 4},
       {"train_runtime": 1.0, "train_loss": 1.4, "epoch": 1.0, "step": 4}]


def _lines(fig):
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


def test_loss_curves_plot_train_and_eval_and_mark_best(tmp_path):
    fig = plotting.loss_curves(LOG)
    assert isinstance(fig, Figure)
    lines = _lines(fig)
    assert list(lines["train"].get_ydata()) == [2.0, 1.6, 1.2, 0.9]
    assert list(lines["validation"].get_xdata()) == [2, 4]
    # best validation loss 1.9 at step 2 (a vertical line)
    assert lines["best validation (1.900)"].get_xdata()[0] == 2
    path = plotting.save_figure(fig, tmp_path / "sub" / "loss.png")
    assert path.stat().st_size > 1000


def test_loss_curves_accept_history_table_and_epoch_axis():
    fig = plotting.loss_curves(ev.history_table(LOG), x="epoch")
    assert list(_lines(fig)["validation"].get_xdata()) == [0.5, 1.0]


def test_compare_curves_one_line_per_run():
    fig = plotting.compare_curves({"base": LOG, "early stop": LOG[:3]})
    assert sorted(_lines(fig)) == ["base", "early stop"]
    assert fig.axes[0].get_ylabel() == "validation loss (nats per token)"  # not the log's column name


def test_confusion_matrix_annotates_counts():
    table = ev.confusion_table(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b"])
    fig = plotting.confusion_matrix(table)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1", "1", "0", "1"]


def test_comparison_bars_one_panel_per_metric():
    table = pd.DataFrame({"rougeL": [0.2, 0.4], "bleu": [3.0, 9.0]}, index=pd.Index(["zs", "lora"], name="model"))
    fig = plotting.comparison_bars(table)
    assert [ax.get_title() for ax in fig.axes] == ["rougeL", "bleu"]
    assert [p.get_height() for p in fig.axes[1].patches] == [3.0, 9.0]
    with pytest.raises(ConfigError, match="not in the table"):
        plotting.comparison_bars(table, ["chrf"])


def test_trials_plot_from_dataframe_and_best_so_far():
    trials = pd.DataFrame({"value": [3.0, 2.0, 2.5, 1.0], "params_lr": [1e-5, 1e-4, 1e-3, 1e-2],
                           "params_rank": [4, 8, 4, 8]})
    fig = plotting.trials_plot({"grid": trials})
    assert len(fig.axes) == 3
    best = fig.axes[0].get_lines()[1]
    assert list(best.get_ydata()) == [3.0, 2.0, 2.0, 1.0]
    assert fig.axes[1].get_xscale() == "log"  # learning rates span 1000x
    assert fig.axes[2].get_xscale() == "linear"
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in fig.axes[2].get_xticks())  # ranks: no 4.5 ticks
    assert fig.axes[0].get_ylabel() == "objective"  # Optuna's "value" column, named for what it is
    named = plotting.trials_plot(trials, objective_label="validation loss")
    assert named.axes[0].get_ylabel() == "validation loss" and named.axes[1].get_title().startswith("validation")


def test_trials_plot_from_optuna_study():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=5)
    fig = plotting.trials_plot(study)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()[0].get_ydata()) == 5


def test_mask_figure_draws_every_token_in_its_role_colour():
    from course_lib.formatting import MaskView

    view = MaskView([[("<|im_start|>", "masked"), ("user\n", "masked"), ("Hi", "masked"), ("Hello", "trained"),
                      ("<|im_end|>", "trained"), ("<pad>", "pad")]])
    fig = plotting.mask_figure(view)
    boxes = {t.get_text(): t.get_bbox_patch().get_facecolor() for t in fig.axes[0].texts if t.get_bbox_patch()}
    from matplotlib.colors import to_rgba

    assert boxes["Hello"] == to_rgba("#b7e4c7") and boxes["<|im_end|>"] == to_rgba("#b7e4c7")
    assert boxes["Hi"] == to_rgba("#e9ecef") and boxes["<pad>"] == to_rgba("#ffffff")
    assert "user↵" in boxes  # a newline inside a token is drawn as ↵
    assert view._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_course_exports_tagged_figures(tmp_path):
    """runner.export_figures: PNGs of cells tagged figure:<name>, or their plain text when there is no image."""
    import base64
    import json

    from course_lib import runner

    png = plotting.figure_png(plotting.loss_curves(LOG))
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["figure:loss_curve"]}, "source": "", "outputs": [
            {"output_type": "display_data", "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "F"}}]},
        {"cell_type": "code", "metadata": {"tags": ["figure:table"]}, "source": "", "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": ["  a  b\n", "0 1  2"]}}]},
        {"cell_type": "code", "metadata": {}, "source": "", "outputs": [
            {"output_type": "display_data", "data": {"image/png": base64.b64encode(png).decode()}}]},
    ]
    executed = tmp_path / "nb.ipynb"
    executed.write_text(json.dumps({"cells": cells}))
    written = runner.export_figures(executed, tmp_path / "figures")
    assert sorted(p.name for p in written) == ["loss_curve.png", "table.txt"]
    assert (tmp_path / "figures" / "loss_curve.png").read_bytes() == png
    assert (tmp_path / "figures" / "table.txt").read_text() == "  a  b\n0 1  2"


def test_comparison_bars_shared_scale_and_words():
    import pandas as pd

    table = pd.DataFrame({"acc a": [0.2, 0.9], "acc b": [0.05, 0.1]}, index=["base", "tuned"])
    fig = plotting.comparison_bars(table, share_scale=True, labels={"acc a": "facts in the training data"})
    axes = fig.get_axes()
    assert [ax.get_ylim() for ax in axes] == [(0.0, 1.1), (0.0, 1.1)]  # one scale: panels compare at a glance
    assert [ax.get_title() for ax in axes] == ["facts in the training data", "acc b"]
    own = plotting.comparison_bars(table).get_axes()
    assert own[0].get_ylim() != own[1].get_ylim()  # default: each panel fits its own metric


def test_accuracy_by_kind_and_interval_curves_one_band_per_kind():
    """Notebook 06's dose-response: accuracy per kind at each epoch with its interval, one line per kind."""
    def table(trained_right):
        return pd.DataFrame({"kind": ["trained"] * 4 + ["kb_only"] * 2,
                             "correct": [1.0] * trained_right + [0.0] * (4 - trained_right) + [0.0, 1.0]})

    dose = ev.accuracy_by_kind({2.0: table(4), 0.0: table(1)}, ("trained", "kb_only"))
    assert list(dose["epoch"]) == [0.0, 0.0, 2.0, 2.0]  # sorted by epoch, kinds in the order given
    trained = dose[dose["kind"] == "trained"]
    assert list(trained["accuracy"]) == [0.25, 1.0] and list(trained["n"]) == [4, 4]
    assert (dose["low"] <= dose["accuracy"]).all() and (dose["accuracy"] <= dose["high"]).all()
    fig = plotting.interval_curves(dose, x="epoch", y="accuracy", group="kind", labels={"trained": "in training"})
    assert isinstance(fig, Figure)
    lines = _lines(fig)
    assert set(lines) == {"in training", "kb_only"} and list(lines["in training"].get_ydata()) == [0.25, 1.0]
    assert fig.axes[0].get_ylim() == (0, 1) and len(fig.axes[0].collections) == 2  # one band per kind
    with pytest.raises(ConfigError, match="no answer tables"):
        ev.accuracy_by_kind({}, ("trained",))
