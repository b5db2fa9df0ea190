"""Ablations: variants of one base training run that each change one thing, and what each change did.

Notebook 05 trains a base run that overfits on purpose, then one variant per fix (early stopping, weight decay,
LoRA dropout, more data, ...), each from the same model and scored on the same validation questions.
:class:`Ablation` holds the shared settings and the results; :meth:`Ablation.table` lines the runs up;
:func:`fix_table` compares each fix with its baseline and says whether it helped by more than a threshold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError


@dataclass
class Ablation:
    """Variants of one base run, trained with :func:`course_lib.train.train` and kept by name.

    Attributes:
        train_records: the base run's training records (a variant may pass its own).
        validation: the records every variant is scored on.
        settings: :class:`course_lib.train.TrainConfig` fields of the base run; a variant overrides some of them.
        runtime: the :class:`course_lib.runtime.Runtime` to train with.
        output_dir: each variant writes to ``output_dir/<name, spaces as underscores>``.
        runs: run name -> :class:`course_lib.train.TrainResult`, in the order they were trained. The first run
            is the base: its validation loss before training is every variant's starting point (LoRA starts at
            the base model, so one measurement serves all).
    """

    train_records: list
    validation: list
    settings: dict
    runtime: object
    output_dir: str | os.PathLike
    runs: dict = field(default_factory=dict)

    def run(self, name: str, train_records: list | None = None, **changes):
        """Train the variant ``name``: the base settings with ``changes`` (TrainConfig fields); return its result."""
        from . import train

        records = self.train_records if train_records is None else train_records
        config = train.TrainConfig(**{**self.settings, **changes})
        self.runs[name] = train.train(records, self.validation, config=config, runtime=self.runtime,
                                      output_dir=Path(self.output_dir) / name.replace(" ", "_"), title=name)
        return self.runs[name]

    def summary(self, name: str) -> dict:
        """Where run ``name``'s curves ended: losses in nats per answer token, epochs, seconds of training.

        ``val_loss_end`` is the validation loss of the model the run ends with: the last evaluation, or the best
        one when early stopping reloaded its best checkpoint at the end.
        """
        if name not in self.runs:
            raise ConfigError(f"no run named {name!r} — trained so far: {', '.join(self.runs) or 'none'}")
        result = self.runs[name]
        history = result.history()
        evals = history["eval_loss"].dropna()
        end = evals.min() if result.config.get("early_stopping_patience") is not None else evals.iloc[-1]
        first = next(iter(self.runs.values()))
        return {"run": name, "val_loss_end": end, "val_loss_best": evals.min(),
                "val_loss_start": first.metrics["eval_loss_start"],
                "train_loss_last": history["train_loss"].dropna().iloc[-1],
                "epochs_run": result.metrics["epoch"], "seconds": round(result.seconds, 1)}

    def table(self, names=None, baseline: str | None = None):
        """:meth:`summary` of each run in ``names`` (default: all, in training order) as a DataFrame indexed by
        run; with ``baseline``, a ``change_vs_base`` column: ``val_loss_end`` minus the baseline's (< 0: better)."""
        import pandas as pd

        frame = pd.DataFrame([self.summary(name) for name in (names or list(self.runs))]).set_index("run")
        if baseline is not None:
            frame["change_vs_base"] = frame["val_loss_end"] - self.summary(baseline)["val_loss_end"]
        return frame


def fix_table(rows: list[dict], lower_is_better=("validation loss",), threshold: float = 0.01):
    """Each fix against its baseline: the rows ``{"fix", "metric", "base", "with_fix"}`` as a DataFrame with
    ``change = with_fix - base`` and ``helped``: the change beats ``threshold`` in the metric's good direction
    (down for metrics named in ``lower_is_better``, up for the others).

    ``threshold`` is a convention of the reader's choosing (0.01 nats, or 0.01 of macro-F1), not a measured
    noise level: measuring the noise takes repeated runs with different seeds.
    """
    import pandas as pd

    missing = [key for key in ("fix", "metric", "base", "with_fix") if rows and key not in rows[0]]
    if not rows or missing:
        raise ConfigError("fix_table needs rows with fix, metric, base and with_fix"
                          + (f" (missing: {', '.join(missing)})" if missing else ""))
    table = pd.DataFrame(rows)
    table["change"] = table["with_fix"] - table["base"]
    down = table["metric"].isin(list(lower_is_better))
    table["helped"] = (table["change"] < -threshold).where(down, table["change"] > threshold)
    return table
