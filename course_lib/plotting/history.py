"""The training log as a table: :func:`history_table`, the rows the loss and metric curves are drawn from.
Taught in notebook 03 (the live curves), used by 05 and 07."""

from __future__ import annotations


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
