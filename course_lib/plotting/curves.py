"""Curves against optimiser steps: loss, metrics, a DPO run's panels, several runs compared, lines with bands.

Notebooks 03-09 draw their training curves with these; each reads a Trainer log through :func:`history_table`.
"""

from __future__ import annotations

import math

from ..errors import ConfigError
from .canvas import _figure
from .history import _history


def loss_curves(log_history, title: str = "Training and validation loss", x: str = "step", ax=None):
    """Training loss and validation loss against optimiser steps (or ``x="epoch"``).

    A validation curve that turns upward while the training curve keeps falling is overfitting; both flat and
    high is underfitting. Other ``eval_*`` metrics in the log are ignored here (plot them with
    :func:`metric_curves`).

    Args:
        log_history: ``trainer.state.log_history`` (list of dicts), its history table, or the Trainer itself.
        ax: draw into an existing Axes instead of a new figure.
    """
    table = _history(log_history)
    fig = _figure() if ax is None else ax.figure
    ax = ax if ax is not None else fig.add_subplot()
    xs = table.index if x == "step" else table.get("epoch")
    if xs is None:
        raise ConfigError("the log has no 'epoch' column — plot against x='step'")
    for column, style, label in (("train_loss", "-", "train"), ("eval_loss", "o-", "validation")):
        if column in table and table[column].notna().any():
            mask = table[column].notna()
            ax.plot(xs[mask.to_numpy()], table[column][mask], style, label=label, markersize=4)
    if "eval_loss" in table and table["eval_loss"].notna().any():
        best = table["eval_loss"].idxmin()
        best_x = best if x == "step" else table.loc[best, "epoch"]
        ax.axvline(best_x, color="grey", linestyle=":", linewidth=1,
                   label=f"best validation ({table['eval_loss'].min():.3f})")
    ax.set_xlabel("optimiser step" if x == "step" else "epoch")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def metric_curves(log_history, metrics, title: str = "Validation metrics during training"):
    """One line per ``eval_*`` metric (e.g. ``["eval_rougeL", "eval_f1_macro"]``) against optimiser steps."""
    table = _history(log_history)
    fig = _figure()
    ax = fig.add_subplot()
    for metric in ([metrics] if isinstance(metrics, str) else metrics):
        if metric not in table:
            raise ConfigError(f"no {metric!r} in the training log — logged metrics: {', '.join(table.columns)}")
        series = table[metric].dropna()
        ax.plot(series.index, series.values, "o-", label=metric, markersize=4)
    ax.set_xlabel("optimiser step")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def preference_curves(log_history, title: str = "Preference tuning (DPO)"):
    """Three panels of a DPO run's log (TRL's ``DPOTrainer``, notebook 08) against optimiser steps: the DPO loss;
    the reward margin (beta x how much more the chosen answer gained over the reference than the rejected one) with
    the reward accuracy (share of pairs whose margin is > 0); and the log-probabilities of the chosen and rejected
    answers (summed over their tokens, nats). A margin that rises while *both* log-probabilities fall is common:
    DPO only asks that the rejected answer falls faster.
    """
    entries = [e for e in (log_history or []) if "step" in e and "rewards/margins" in e]
    fig = _figure(11, 3.4)
    loss_ax, margin_ax, logp_ax = fig.subplots(1, 3)
    steps = [e["step"] for e in entries]

    def line(ax, key, label, style="o-"):
        ax.plot(steps, [e.get(key, math.nan) for e in entries], style, label=label, markersize=3)

    line(loss_ax, "loss", "DPO loss")
    loss_ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1, label="log 2 (margin 0)")
    line(margin_ax, "rewards/margins", "reward margin")
    accuracy_ax = margin_ax.twinx()
    accuracy_ax.plot(steps, [e.get("rewards/accuracies", math.nan) for e in entries], "s--", color="tab:green",
                     markersize=3, label="reward accuracy")
    accuracy_ax.set_ylim(-0.05, 1.05)
    accuracy_ax.set_ylabel("reward accuracy")
    line(logp_ax, "logps/chosen", "chosen")
    line(logp_ax, "logps/rejected", "rejected")
    for ax, ylabel in ((loss_ax, "loss (nats per pair)"), (margin_ax, "margin (beta x nats)"),
                       (logp_ax, "log-probability (nats per answer)")):
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(title)
    return fig


_CURVE_LABELS = {"eval_loss": "validation loss (nats per token)", "train_loss": "training loss (nats per token)",
                 "loss": "training loss (nats per token)"}


def compare_curves(histories: dict, column: str = "eval_loss", title: str | None = None):
    """The same curve (default validation loss) for several runs on one axis: ``{run name: log_history}``."""
    fig = _figure(7, 4.2)
    ax = fig.add_subplot()
    for name, history in histories.items():
        table = _history(history)
        if column not in table or table[column].isna().all():
            continue
        series = table[column].dropna()
        ax.plot(series.index, series.values, "o-", label=name, markersize=3)
    ax.set_xlabel("optimiser step")
    label = _CURVE_LABELS.get(column, column)
    ax.set_ylabel(label)
    ax.set_title(title or f"{label.split(' (')[0]} by run")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def interval_curves(table, x: str, y: str, group: str, low: str = "low", high: str = "high", labels=None,
                    title: str = "", xlabel: str | None = None, ylabel: str | None = None, share_scale: bool = True):
    """One line per ``group`` value of a long ``table`` (``y`` against ``x``), with its interval as a band.

    ``labels``: ``{group value: legend text}``. ``share_scale``: a 0-1 y axis (scores that are shares), so that
    curves of different figures compare at a glance. Notebook 06 draws accuracy by kind of fact against epochs.
    """
    fig = _figure(7, 4.2)
    ax = fig.add_subplot()
    labels = labels or {}
    for name, rows in table.groupby(group, sort=False):
        rows = rows.sort_values(x)
        line, = ax.plot(rows[x], rows[y], "o-", markersize=4, label=labels.get(name, name))
        ax.fill_between(rows[x], rows[low], rows[high], color=line.get_color(), alpha=0.15, linewidth=0)
    if share_scale:
        ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
