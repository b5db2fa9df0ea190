"""Figures for the course: loss curves, confusion matrices, comparison bars, hyperparameter-search trials, memory.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so it works headless (tests,
papermill, a server without a display), is shown once when it is the last value of a notebook cell, and never
piles up in pyplot's global figure list. Save one with ``fig.savefig(path)`` or :func:`save_figure`.
:func:`history_table` is the one table here: a Trainer's log, the rows the loss and metric curves are drawn from.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import ConfigError
from .notebook import figure_png  # re-exported: lives in the core layer, for the notebook display hook


def _figure(width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def history_table(log_history):
    """A Trainer ``log_history`` (list of dicts) as one DataFrame indexed by step.

    Columns: ``train_loss`` (entries with ``loss``), ``eval_loss`` and any other ``eval_*`` metric, and
    ``epoch``. Training and evaluation entries logged at the same step are merged into one row; the final
    summary entry (``train_runtime`` ...) is dropped.
    """
    import pandas as pd

    rows = {}
    for entry in log_history or []:
        if "step" not in entry or "train_runtime" in entry:
            continue
        row = rows.setdefault(int(entry["step"]), {"step": int(entry["step"])})
        if "epoch" in entry:
            row["epoch"] = float(entry["epoch"])
        if "loss" in entry:
            row["train_loss"] = float(entry["loss"])
        for key, value in entry.items():
            if key.startswith("eval_") and isinstance(value, (int, float)):
                row[key] = float(value)
    if not rows:
        return pd.DataFrame(columns=["epoch", "train_loss", "eval_loss"], index=pd.Index([], name="step"))
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["step"])).set_index("step")


def _history(log_history):
    """Accept a Trainer ``log_history`` list, a :func:`history_table` or a Trainer."""
    import pandas as pd

    if isinstance(log_history, pd.DataFrame):
        return log_history
    if hasattr(log_history, "state"):  # a Trainer
        log_history = log_history.state.log_history
    return history_table(log_history)


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


def confusion_matrix(table, title: str = "Confusion matrix", cmap: str = "Blues"):
    """Heat map of a :func:`~course_lib.evaluation.confusion_table` (rows gold, columns predicted).

    Counts are written in each cell (or shares, when the table was normalised).
    """
    import numpy as np

    values = np.asarray(table, dtype=float)
    n = values.shape[0]
    fig = _figure(1.2 + 0.9 * n + 1.5, 1.2 + 0.9 * n)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap=cmap, vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(values.shape[1]), labels=list(table.columns), rotation=30, ha="right")
    ax.set_yticks(range(n), labels=list(table.index))
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    integer = np.allclose(values, values.round())
    top = values.max() if values.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = f"{int(values[i, j])}" if integer else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center",
                    color="white" if top and values[i, j] > top / 2 else "black")
    ax.set_title(title)
    return fig


def comparison_bars(table, metrics=None, title: str = "Model comparison", share_scale: bool = False,
                    labels: dict | None = None):
    """Grouped bars: one group per metric, one bar per model (rows of a comparison table).

    Metrics on different scales (BLEU 0..100 and ROUGE 0..1) get one small panel each, so none is flattened.
    ``share_scale``: every panel on the same 0..1 axis, for shares and accuracies, so that panels compare at a
    glance. ``labels``: panel titles in words, ``{column: "facts only in the knowledge base"}``.
    """
    import numpy as np

    metrics = list(metrics) if metrics is not None else [c for c in table.columns
                                                         if np.issubdtype(table[c].dtype, np.number)]
    if not metrics:
        raise ConfigError("no numeric metric columns to plot — pass metrics=[...] naming columns of the table")
    missing = [m for m in metrics if m not in table]
    if missing:
        raise ConfigError(f"metric(s) {', '.join(missing)} not in the table — it has: {', '.join(table.columns)}")
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = _figure(3.2 * cols, 2.8 * rows)
    names = [str(i) for i in table.index]
    colours = [f"C{i % 10}" for i in range(len(names))]
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        values = table[metric].astype(float).to_numpy()
        bars = ax.bar(range(len(names)), values, color=colours)
        ax.bar_label(bars, labels=[f"{v:.3g}" if np.isfinite(v) else "n/a" for v in values], fontsize=7)
        ax.set_xticks(range(len(names)), labels=names, rotation=25, ha="right", fontsize=8)
        ax.set_title((labels or {}).get(metric, metric), fontsize=10)
        if share_scale:
            ax.set_ylim(0, 1.1)  # room above 1.0 for the bar label
        else:
            ax.margins(y=0.15)
    fig.suptitle(title)
    return fig


def trials_plot(trials, objective: str = "value", params=None, minimize: bool = True,
                title: str = "Hyperparameter search", objective_label: str | None = None):
    """Trials of a search: objective by trial with the best-so-far line, then objective against each parameter.

    Args:
        trials: an Optuna ``Study``, or a DataFrame with one row per trial (``study.trials_dataframe()`` or
            your own), or ``{sampler name: study or DataFrame}`` to overlay several searches (grid vs random).
        objective: the column holding the objective (Optuna's is ``"value"``).
        params: parameter columns to plot (default: every ``params_*`` column); log-scaled when they span more
            than a factor of 20 (learning rates).
        minimize: whether lower is better (for the best-so-far line).
        objective_label: what the objective is, for the axes (default: the column name; Optuna's "value" reads
            as "objective").
    """
    import numpy as np
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    def frame_of(obj):
        if isinstance(obj, pd.DataFrame):
            return obj
        if hasattr(obj, "trials_dataframe"):
            return obj.trials_dataframe()
        raise ConfigError("trials must be an Optuna Study or a DataFrame of trials")

    searches = {k: frame_of(v) for k, v in trials.items()} if isinstance(trials, dict) else {"trials": frame_of(trials)}
    first = next(iter(searches.values()))
    if params is None:
        params = [c for c in first.columns if str(c).startswith("params_")]
    fig = _figure(3.4 * (1 + len(params)), 3.2)
    axes = [fig.add_subplot(1, 1 + len(params), i + 1) for i in range(1 + len(params))]
    for k, (name, frame) in enumerate(searches.items()):
        if objective not in frame:
            raise ConfigError(f"no {objective!r} column in the trials — columns: {', '.join(map(str, frame.columns))}")
        if "state" in frame:
            frame = frame[frame["state"].astype(str).str.contains("COMPLETE")]
        values = frame[objective].astype(float).to_numpy()
        best = np.minimum.accumulate(values) if minimize else np.maximum.accumulate(values)
        colour = f"C{k}"
        axes[0].plot(range(len(values)), values, "o", color=colour, label=name, alpha=0.7)
        axes[0].plot(range(len(values)), best, "-", color=colour, alpha=0.7)
        for ax, param in zip(axes[1:], params):
            ax.plot(frame[param], values, "o", color=colour, alpha=0.7, label=name)
    label = objective_label or ("objective" if objective == "value" else objective)
    axes[0].set_xlabel("trial")
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel(label)
    axes[0].set_title("by trial (line: best so far)", fontsize=9)
    if len(searches) > 1:
        axes[0].legend(fontsize=8)
    for ax, param in zip(axes[1:], params):
        column = pd.concat([f[param] for f in searches.values() if param in f])
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all() and numeric.min() > 0 and numeric.max() / numeric.min() > 20:
            ax.set_xscale("log")
        elif numeric.notna().all() and (numeric == numeric.round()).all():
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs, ranks: no 2.2 ticks
        ax.set_xlabel(str(param).removeprefix("params_"))
        ax.set_title(f"{label} vs {str(param).removeprefix('params_')}", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


_PART_LABELS = {"weights": "weights", "autocast_copies": "autocast copies", "gradients": "gradients",
                "optimizer": "optimizer states", "activations": "activations", "logits": "logits",
                "workspace": "overhead"}


def memory_breakdown(estimates: dict, measured: dict | None = None, title: str = "Peak memory, by part"):
    """Stacked bars of predicted peak memory: one bar per :class:`~course_lib.fit.FitEstimate`, split into the parts
    alive at its peak (``FitEstimate.peak_parts()``: they add up to the predicted peak), in GiB or MiB.

    Args:
        estimates: ``{bar label: FitEstimate}``.
        measured: optional ``{bar label: measured peak in bytes}``, drawn as a dashed black line across that bar.
    """
    if not estimates:
        raise ConfigError("no estimates to plot — pass {label: fit.estimate(...)}")
    measured = measured or {}
    unknown = [k for k in measured if k not in estimates]
    if unknown:
        raise ConfigError(f"measured peaks for {unknown} have no estimate — use the same labels as the estimates")
    labels = list(estimates)
    biggest = max(max(e.total for e in estimates.values()), max(measured.values(), default=0))
    unit, scale = ("GiB", 2 ** 30) if biggest >= 2 ** 30 else ("MiB", 2 ** 20)
    fig = _figure(3.0 + 1.3 * len(labels), 4.2)
    ax = fig.add_subplot()
    bottoms = [0.0] * len(labels)
    for k, (part, name) in enumerate(_PART_LABELS.items()):
        values = [estimates[label].peak_parts()[part] / scale for label in labels]
        if not any(values):
            continue
        ax.bar(range(len(labels)), values, bottom=bottoms, label=name, color=f"C{k}")
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for i, label in enumerate(labels):
        top = bottoms[i]
        if label in measured:
            y = measured[label] / scale
            ax.plot([i - 0.45, i + 0.45], [y, y], "k--", linewidth=2,
                    label="measured peak" if "measured peak" not in ax.get_legend_handles_labels()[1] else None)
            top = max(top, y)
        ax.annotate(f"{estimates[label].total / scale:.3g}", (i, top), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels=labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"peak memory ({unit})")
    ax.set_title(title)
    ax.margins(y=0.12)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return fig


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` (folders created; format from the suffix, e.g. ``.png``); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


_MASK_COLOURS = {"trained": "#b7e4c7", "masked": "#e9ecef", "pad": "#ffffff"}


def mask_figure(view, width_chars: int = 96, max_lines: int = 14):
    """The label-mask visualiser (:class:`~course_lib.formatting.MaskView`) as a picture: one box per token, green
    when the token is in the loss, grey when masked (-100), white for padding; each example starts a new line.

    Args:
        view: a ``MaskView`` (``rows``: per example, a list of ``(token_text, role)``).
        width_chars: characters per line of the monospace layout before a line wraps.
        max_lines: lines drawn at most (the rest is cut, with "…" on the last line).
    """
    lines: list[list[tuple[str, str, int]]] = []  # per line: (text, role, column)
    for row in view.rows:
        line, column = [], 0
        for text, role in row:
            shown = text.replace("\n", "↵")
            if column + len(shown) > width_chars and line:
                lines.append(line)
                line, column = [], 0
            line.append((shown, role, column))
            column += max(1, len(shown))
            if text.endswith("\n"):
                lines.append(line)
                line, column = [], 0
        if line:
            lines.append(line)
        lines.append([])  # a blank line between examples
    cut = len(lines) > max_lines
    lines = lines[:max_lines]
    # 8-point monospace characters are ~4.8 points (0.067 in) wide: one axis unit per character.
    fig = _figure(0.067 * width_chars + 0.3, 0.28 * (len(lines) + 1.5))
    ax = fig.add_subplot()
    ax.set_xlim(0, width_chars)
    ax.set_ylim(len(lines) + 1, -0.5)
    ax.axis("off")
    for y, line in enumerate(lines, start=1):
        for text, role, x in line:
            ax.text(x, y, text, family="monospace", fontsize=8, va="center", ha="left",
                    color="#bbbbbb" if role == "pad" else "#000000",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": _MASK_COLOURS[role], "edgecolor": "white",
                          "linewidth": 0.5})
    if cut:
        ax.text(0, len(lines) + 0.6, "…", fontsize=9)
    for k, (role, label) in enumerate((("trained", "trained (in the loss)"), ("masked", "masked (-100)"),
                                       ("pad", "padding"))):
        ax.text(30 * k, 0, label, fontsize=8, va="center", bbox={"boxstyle": "square,pad=0.2",
                "facecolor": _MASK_COLOURS[role], "edgecolor": "#cccccc", "linewidth": 0.5})
    return fig
