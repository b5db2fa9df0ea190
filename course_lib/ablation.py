"""Ablations: variants of one base training run that each change one thing, and what each change did.

Notebook 05 trains a base run that overfits on purpose, then one variant per fix (early stopping, weight decay,
LoRA dropout, more data, ...), each from the same model and scored on the same validation questions, and each
with the same few training seeds. :class:`Ablation` holds the shared settings and the results;
:meth:`Ablation.table` lines the runs up; :meth:`Ablation.difference` is a fix's change against the base run,
paired by seed, with its interval; :func:`fix_table` says whether each fix helped: its whole interval on the
good side of 0. :func:`imbalance_fixes` is the same idea for the embedding probe's class imbalance: a
class-weighted loss and resampling, each against the probe as it is.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import uncertainty
from .errors import ConfigError


@dataclass
class Ablation:
    """Variants of one base run, trained with :func:`course_lib.train.train` once per seed and kept by name.

    Attributes:
        train_records: the base run's training records (a variant may pass its own).
        validation: the records every variant is scored on.
        settings: :class:`course_lib.train.TrainConfig` fields of the base run; a variant overrides some of them.
        runtime: the :class:`course_lib.runtime.Runtime` to train with.
        output_dir: each variant writes to ``output_dir/<name, spaces as underscores>`` (first seed) and
            ``..._seed<N>`` (the others).
        seeds: the training seeds (adapter initialisation, batch order) every variant runs with, so that a fix and
            the base run are compared seed by seed; empty: the runtime's seed only.
        runs: run name -> :class:`course_lib.train.TrainResult` of the first seed (its curves are the ones drawn;
            like every result kept here, without its model, which is released to save memory),
            in the order they were trained. The first run is the base: its validation loss before training is every
            variant's starting point (LoRA starts at the base model, so one measurement serves all).
        seed_runs: run name -> {seed: TrainResult} for every seed.
    """

    train_records: list
    validation: list
    settings: dict
    runtime: object
    output_dir: str | os.PathLike
    seeds: tuple = ()
    runs: dict = field(default_factory=dict)
    seed_runs: dict = field(default_factory=dict)

    @property
    def all_seeds(self) -> tuple:
        """The seeds each variant trains with (the runtime's seed when ``seeds`` is empty)."""
        return tuple(self.seeds) or (getattr(self.runtime, "seed", 0),)

    def _runtime_for(self, seed: int):
        if self.runtime is None or self.runtime.seed == seed:
            return self.runtime
        return dataclasses.replace(self.runtime, seed=seed)  # train.train seeds everything from runtime.seed

    def run(self, name: str, train_records: list | None = None, seeds: tuple | None = None, **changes):
        """Train the variant ``name`` with every seed: the base settings with ``changes`` (TrainConfig fields).

        ``seeds`` replaces :attr:`all_seeds` for this run only (a search trial trains once). Returns the first
        seed's result. The validation loss before training (``eval_at_start``) is measured with the first seed
        only: LoRA's B = 0 makes every seed's starting model the base model.
        """
        from . import train

        records = self.train_records if train_records is None else train_records
        config = train.TrainConfig(**{**self.settings, **changes})
        folder = Path(self.output_dir) / name.replace(" ", "_")
        results = {}
        for i, seed in enumerate(seeds or self.all_seeds):
            result = train.train(
                records, self.validation, runtime=self._runtime_for(seed),
                config=config if i == 0 else dataclasses.replace(config, eval_at_start=False),
                output_dir=folder if i == 0 else folder.with_name(f"{folder.name}_seed{seed}"),
                title=name if i == 0 else f"{name} (seed {seed})")
            # An ablation compares curves and losses, never the trained weights: keeping every run's model in
            # memory (about 0.5 GB each; lesson 05 trains 16 runs) would need 8+ GB. Saved checkpoints stay on disk.
            if getattr(result, "model", None) is not None:
                result.model = None
            results[seed] = result
        self.seed_runs[name] = results
        self.runs[name] = next(iter(results.values()))
        return self.runs[name]

    def summary(self, name: str, seed: int | None = None) -> dict:
        """Where run ``name``'s curves ended (the first seed's, or ``seed``'s): losses in nats per answer token,
        epochs, seconds of training.

        ``val_loss_end`` is the validation loss of the model the run ends with: the last evaluation, or the best
        one when early stopping reloaded its best checkpoint at the end.
        """
        if name not in self.runs:
            raise ConfigError(f"no run named {name!r} — trained so far: {', '.join(self.runs) or 'none'}")
        result = self.runs[name] if seed is None else self.seed_runs[name][seed]
        history = result.history()
        evals = history["eval_loss"].dropna()
        end = evals.min() if result.config.get("early_stopping_patience") is not None else evals.iloc[-1]
        first = next(iter(self.runs.values()))
        return {"run": name, "val_loss_end": end, "val_loss_best": evals.min(),
                "val_loss_start": first.metrics["eval_loss_start"],
                "train_loss_last": history["train_loss"].dropna().iloc[-1],
                "epochs_run": result.metrics["epoch"], "seconds": round(result.seconds, 1)}

    def seed_values(self, name: str, key: str = "val_loss_end") -> list[float]:
        """``key`` of :meth:`summary` for each seed of run ``name``, in :attr:`all_seeds` order."""
        if name not in self.seed_runs:
            raise ConfigError(f"no run named {name!r} — trained so far: {', '.join(self.runs) or 'none'}")
        return [self.summary(name, seed)[key] for seed in self.seed_runs[name]]

    def difference(self, name: str, baseline: str, key: str = "val_loss_end",
                   confidence: float = 0.95) -> uncertainty.Difference:
        """Run ``name`` minus ``baseline`` on ``key``, paired by seed, with its t interval over the seeds
        (:func:`course_lib.uncertainty.difference_over_seeds`); for a loss, below 0 means the fix helped."""
        return uncertainty.difference_over_seeds(self.seed_values(name, key), self.seed_values(baseline, key),
                                                 name, baseline, confidence)

    def table(self, names=None, baseline: str | None = None):
        """:meth:`summary` of each run in ``names`` (default: all, in training order) as a DataFrame indexed by
        run; with ``baseline``, a ``change_vs_base`` column: ``val_loss_end`` minus the baseline's (< 0: better),
        first seed."""
        import pandas as pd

        frame = pd.DataFrame([self.summary(name) for name in (names or list(self.runs))]).set_index("run")
        if baseline is not None:
            frame["change_vs_base"] = frame["val_loss_end"] - self.summary(baseline)["val_loss_end"]
        return frame


def fix_row(fix: str, metric: str, difference: uncertainty.Difference, over: str) -> dict:
    """One row of :func:`fix_table` from a :class:`~course_lib.uncertainty.Difference` (fix minus base).

    ``over`` names what the interval is over, e.g. ``"3 seeds"`` or ``"64 reviews"``.
    """
    return {"fix": fix, "metric": metric, "base": difference.score_b, "with_fix": difference.score_a,
            "low": difference.low, "high": difference.high, "over": over}


def fix_table(rows: list[dict], lower_is_better=("validation loss",)):
    """Each fix against its baseline: rows ``{"fix", "metric", "base", "with_fix", "low", "high", ...}``
    (:func:`fix_row`) as a DataFrame with ``change = with_fix - base`` and ``helped``: the change's whole interval
    ``[low, high]`` lies on the metric's good side of 0 (below for metrics named in ``lower_is_better``, above for
    the others). A fix whose interval straddles 0 did not show that it helps; an interval that could not be
    measured (NaN, one seed) shows nothing either.
    """
    import pandas as pd

    missing = [key for key in ("fix", "metric", "base", "with_fix", "low", "high") if rows and key not in rows[0]]
    if not rows or missing:
        raise ConfigError("fix_table needs rows with fix, metric, base, with_fix, low and high (ablation.fix_row)"
                          + (f" (missing: {', '.join(missing)})" if missing else ""))
    table = pd.DataFrame(rows)
    table["change"] = table["with_fix"] - table["base"]
    down = table["metric"].isin(list(lower_is_better))
    table["helped"] = (table["high"] < 0).where(down, table["low"] > 0)  # NaN compares False: not shown
    return table


def imbalance_fixes(probe, seed: int = 0):
    """Two fixes of class imbalance for an embedding probe, each against the probe as it is ("no fix").

    * **class-weighted loss**: the same head with ``class_weight="balanced"`` (each example weighs
      ``N / (classes * examples of its class)``, so every class carries the same total weight);
    * **resampling**: the head trained on the training rows drawn, with replacement, so that every class is as
      frequent as the largest one (``numpy.random.default_rng(seed)``, one draw per class in label order).

    Args:
        probe: a :class:`course_lib.evaluation.EmbeddingProbe` (its ``classifier`` is the "no fix" variant).
        seed: the resampling's seed.

    Returns:
        ``(table, predictions)``: a DataFrame indexed by variant with ``accuracy``, ``macro_f1`` and
        ``recall_<label>`` on the probe's held-out rows (0..1), and ``{variant: predicted labels}`` (arrays of
        ``len(probe.held_out)``). Taught in notebook 05.
    """
    import numpy as np
    import pandas as pd

    from . import evaluation

    y_train = probe.train["label"].to_numpy()
    biggest = probe.train["label"].value_counts().max()
    pick = np.random.default_rng(seed)
    resample = np.concatenate([pick.choice(np.flatnonzero(y_train == label), biggest, replace=True)
                               for label in probe.labels])
    classifiers = {"no fix": probe.classifier,
                   "class-weighted loss": evaluation.fit_probe(probe.X_train, y_train, "balanced"),
                   "resampling": evaluation.fit_probe(probe.X_train[resample], y_train[resample])}
    rows, predictions = [], {}
    for name, classifier in classifiers.items():
        predictions[name] = classifier.predict(probe.X_held_out)
        m = evaluation.classification_metrics(probe.held_out["label"], predictions[name], labels=probe.labels)
        rows.append({"variant": name, "accuracy": m["accuracy"], "macro_f1": m["f1_macro"],
                     **{f"recall_{k}": v["recall"] for k, v in m["per_class"].items()}})
    return pd.DataFrame(rows).set_index("variant"), predictions
