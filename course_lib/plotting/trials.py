"""A hyperparameter search's trials: the objective by trial and against each parameter (notebook 05)."""

from __future__ import annotations

from ..errors import ConfigError
from .canvas import _figure


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
    searches = _searches(trials)
    first = next(iter(searches.values()))
    if params is None:
        params = [c for c in first.columns if str(c).startswith("params_")]
    fig = _figure(3.4 * (1 + len(params)), 3.2)
    axes = [fig.add_subplot(1, 1 + len(params), i + 1) for i in range(1 + len(params))]
    _plot_searches(axes, searches, objective, params, minimize)
    label = objective_label or ("objective" if objective == "value" else objective)
    _label_trial_axis(axes[0], label, several=len(searches) > 1)
    _label_param_axes(axes[1:], searches, params, label)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def _frame_of(obj):
    """One search's trials as a DataFrame: the frame itself, or an Optuna ``Study``'s ``trials_dataframe()``."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return obj
    if hasattr(obj, "trials_dataframe"):
        return obj.trials_dataframe()
    raise ConfigError("trials must be an Optuna Study or a DataFrame of trials")


def _searches(trials) -> dict:
    """``{search name: DataFrame of its trials}``; a single study or frame is called ``"trials"``."""
    return {k: _frame_of(v) for k, v in trials.items()} if isinstance(trials, dict) else {"trials": _frame_of(trials)}


def _plot_searches(axes, searches: dict, objective: str, params, minimize: bool) -> None:
    """Each search's completed trials in its own colour: by trial with the best-so-far line on ``axes[0]``, then
    against each parameter on ``axes[1:]``."""
    import numpy as np

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


def _label_trial_axis(ax, label: str, several: bool) -> None:
    """Axes and title of the by-trial panel; a legend only when several searches share it."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.set_title("by trial (line: best so far)", fontsize=9)
    if several:
        ax.legend(fontsize=8)


def _label_param_axes(axes, searches: dict, params, label: str) -> None:
    """Each parameter panel's x axis: log-scaled when the values span more than a factor of 20, whole-number ticks
    for whole-number parameters."""
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    for ax, param in zip(axes, params):
        column = pd.concat([f[param] for f in searches.values() if param in f])
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all() and numeric.min() > 0 and numeric.max() / numeric.min() > 20:
            ax.set_xscale("log")
        elif numeric.notna().all() and (numeric == numeric.round()).all():
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs, ranks: no 2.2 ticks
        ax.set_xlabel(str(param).removeprefix("params_"))
        ax.set_title(f"{label} vs {str(param).removeprefix('params_')}", fontsize=9)
