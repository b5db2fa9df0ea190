"""How sure is a difference? Paired bootstrap intervals for "model A scored higher than model B".

Two models answered the *same* test questions, so their scores are paired: question 17 may be hard for both.
Resampling the questions (with replacement) and recomputing ``score(A) - score(B)`` on each resample keeps that
pairing, which makes the interval much narrower than comparing two separate intervals. The resampling is
scipy's (``scipy.stats.bootstrap`` with ``paired=True``, percentile method), not hand-written.

Taught in notebook 03 (each fine-tuned model against both prompting baselines) and used in notebook 06 (gain by
kind of fact); :func:`mean_interval` is the one-model interval for notebook 04's "how far do 60 questions go",
and :func:`difference_over_seeds` the interval over training seeds of notebook 05's fixes. :func:`label_interval`
is one classifier's macro F1 with its interval (notebook 10: trained on wrong labels).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

# Resamples per interval. Measured on 60 random 0/1 item pairs (10 data sets x 5 seeds): the interval ends with
# 4,000 resamples were within 0.017 (one item of 60) of those with 100,000.
DEFAULT_RESAMPLES = 4000


@dataclass(frozen=True)
class Difference:
    """``score_a - score_b`` on the same test items, with its paired bootstrap interval.

    Attributes:
        name_a / name_b: what was compared (e.g. ``"LoRA"`` and ``"zero-shot"``).
        score_a / score_b: each model's score on all ``n`` items (a mean, or the metric's value).
        diff: ``score_a - score_b`` (same units as the scores: 0.20 is 20 points of a 0..1 score).
        low / high: the ``confidence`` interval of ``diff`` from ``resamples`` paired resamples of the items.
        n: how many paired items.
    """

    name_a: str
    name_b: str
    score_a: float
    score_b: float
    diff: float
    low: float
    high: float
    confidence: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0: the data back a difference in that direction."""
        return self.low > 0 or self.high < 0

    def row(self) -> dict:
        """Flat dict for a table."""
        return {"model": self.name_a, "versus": self.name_b, "score": round(self.score_a, 3),
                "versus score": round(self.score_b, 3), "difference": round(self.diff, 3),
                f"{round(100 * self.confidence)}% low": round(self.low, 3),
                f"{round(100 * self.confidence)}% high": round(self.high, 3), "n": self.n,
                "interval excludes 0": self.excludes_zero}

    def __str__(self) -> str:
        level = round(100 * self.confidence)
        return (f"{self.name_a} {self.score_a:.3f} vs {self.name_b} {self.score_b:.3f}: {self.diff:+.3f} "
                f"({level}% interval {self.low:+.3f} to {self.high:+.3f}, {self.n} paired items)")


def _numeric(values, what: str):
    import numpy as np

    array = np.asarray(list(values), dtype=float)
    if array.ndim != 1 or len(array) == 0:
        raise ConfigError(f"{what} must be a non-empty list of per-item numbers — pass one score per test item")
    if np.isnan(array).any():
        raise ConfigError(f"{what} holds NaN scores — drop the items that have no score before comparing")
    return array


def _bootstrap(arrays, statistic, confidence: float, resamples: int, seed: int,
               vectorized: bool = False) -> tuple[float, float]:
    """Percentile interval of ``statistic(*arrays)`` over paired resamples of the items (``scipy.stats``).

    ``vectorized``: ``statistic`` takes an ``axis`` argument and scores all resamples in one numpy call (means).
    """
    import numpy as np
    from scipy import stats

    if len(arrays[0]) < 2:
        value = float(statistic(*arrays))
        return value, value
    result = stats.bootstrap(arrays, statistic, paired=True, vectorized=vectorized, confidence_level=confidence,
                             n_resamples=resamples, method="percentile", random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    # Every resample equal (e.g. both models right on every item): scipy returns NaN, the interval is the point.
    point = float(statistic(*arrays))
    return (point if np.isnan(low) else float(low)), (point if np.isnan(high) else float(high))


def paired_difference(scores_a, scores_b, name_a: str = "a", name_b: str = "b", confidence: float = 0.95,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Difference:
    """Mean of per-item ``scores_a`` minus mean of ``scores_b`` (one score per test item each, same order).

    Use it for any metric that is a mean over items: keyword match, accuracy (1/0 per item), valid-JSON rate.
    For a handful of training seeds use :func:`difference_over_seeds` instead: a bootstrap of 3 values can only
    land on the observed differences.
    """
    a, b = _numeric(scores_a, f"scores of {name_a}"), _numeric(scores_b, f"scores of {name_b}")
    if len(a) != len(b):
        raise ConfigError(f"{name_a} has {len(a)} scores but {name_b} has {len(b)} — both must score the same "
                          "test items, in the same order")
    low, high = _bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), confidence, resamples, seed,
                           vectorized=True)
    return Difference(name_a, name_b, float(a.mean()), float(b.mean()), float(a.mean() - b.mean()), low, high,
                      confidence, len(a))


def difference_over_seeds(values_a, values_b, name_a: str = "a", name_b: str = "b",
                          confidence: float = 0.95) -> Difference:
    """Mean over seeds of ``values_a[i] - values_b[i]``, where run ``i`` of A and of B share seed ``i``.

    Each value is one training run's result (e.g. its final validation loss in nats per answer token). Training
    noise (initial adapter weights, batch order) moves every question's score of a run together, so resampling
    the questions would not show it: the unit here is the seed. The interval is Student's t on the paired
    differences (``scipy.stats.ttest_rel``), wide with 3 seeds (t = 4.30 for 95 %), as it should be. With one
    seed there is no spread to measure: ``low`` and ``high`` are NaN and the interval excludes nothing.
    Taught in notebook 05 (each fix against the overfitting base run, same seeds).
    """
    import numpy as np
    from scipy import stats

    a, b = _numeric(values_a, f"values of {name_a}"), _numeric(values_b, f"values of {name_b}")
    if len(a) != len(b):
        raise ConfigError(f"{name_a} has {len(a)} runs but {name_b} has {len(b)} — train both with the same seeds")
    diff = float((a - b).mean())
    if len(a) < 2:
        low = high = float("nan")
    elif np.ptp(a - b) == 0:  # every seed gave the same difference: no spread, the interval is the point
        low = high = diff
    else:
        low, high = (float(v) for v in stats.ttest_rel(a, b).confidence_interval(confidence_level=confidence))
    return Difference(name_a, name_b, float(a.mean()), float(b.mean()), diff, low, high, confidence, len(a))


def macro_f1_codes(gold, predicted, n_labels: int, axis: int = -1):
    """Macro F1 over label codes ``0 .. n_labels-1`` (a code >= n_labels, e.g. an unparsed answer, is always
    wrong), for one row of items or for many resampled rows at once (``axis``).

    Per label ``F1 = 2 TP / (2 TP + FP + FN)`` and 0 when the label never occurs: scikit-learn's ``f1_score(...,
    average="macro", zero_division=0)`` with ``labels`` given, which ``evaluation.classification_metrics`` uses
    (tested equal), written with numpy so that thousands of resamples take milliseconds.
    """
    import numpy as np

    gold, predicted = np.asarray(gold), np.asarray(predicted)
    scores = []
    for label in range(n_labels):
        is_gold, is_pred = gold == label, predicted == label
        tp = (is_gold & is_pred).sum(axis=axis)
        wrong = (is_gold ^ is_pred).sum(axis=axis)  # FP + FN
        denominator = 2 * tp + wrong
        scores.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    return np.mean(scores, axis=0)


def _label_metric(metric: str, n_labels: int):
    """``score(gold codes, predicted codes, axis=-1)`` for ``"macro_f1"`` or ``"accuracy"``, vectorised over rows."""
    if metric not in ("macro_f1", "accuracy"):
        raise ConfigError(f"unknown metric {metric!r} — use 'macro_f1' or 'accuracy'")

    def score(g, p, axis=-1):
        if metric == "accuracy":
            return (g == p).mean(axis=axis)
        return macro_f1_codes(g, p, n_labels, axis=axis)

    return score


def _label_codes(labels, *label_lists):
    """Each list of labels as an array of codes ``0 .. len(labels)-1``; a value outside ``labels`` gets
    ``len(labels)`` (always wrong)."""
    import numpy as np

    code = {label: i for i, label in enumerate(labels)}
    return tuple(np.array([code.get(v, len(labels)) for v in values]) for values in label_lists)


def paired_label_difference(y_true, pred_a, pred_b, labels, metric: str = "macro_f1", name_a: str = "a",
                            name_b: str = "b", confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                            seed: int = 0) -> Difference:
    """``metric(A) - metric(B)`` for two classifiers' labels on the same items, the items resampled jointly.

    Args:
        y_true / pred_a / pred_b: gold and predicted labels (any hashable values), one per item, same order.
        labels: the classes scored; a prediction outside them (``"unparsed"``) counts as wrong.
        metric: ``"macro_f1"`` (not a mean over items, hence this function) or ``"accuracy"``.
    """
    y_true, pred_a, pred_b, labels = list(y_true), list(pred_a), list(pred_b), list(labels)
    if not (len(y_true) == len(pred_a) == len(pred_b)) or not y_true:
        raise ConfigError(f"gold labels ({len(y_true)}), {name_a} ({len(pred_a)}) and {name_b} ({len(pred_b)}) "
                          "must be non-empty and the same length — predict every test item with both models")
    score = _label_metric(metric, len(labels))
    gold, a, b = _label_codes(labels, y_true, pred_a, pred_b)
    low, high = _bootstrap((gold, a, b), lambda g, x, y, axis=-1: score(g, x, axis) - score(g, y, axis),
                           confidence, resamples, seed, vectorized=True)
    score_a, score_b = float(score(gold, a)), float(score(gold, b))
    return Difference(name_a, name_b, score_a, score_b, score_a - score_b, low, high, confidence, len(y_true))


def label_interval(y_true, predicted, labels, metric: str = "macro_f1", confidence: float = 0.95,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """``(score, low, high)``: one classifier's macro F1 (or accuracy) on N items, with the bootstrap interval
    over the items (the same resampling as :func:`paired_label_difference`, one classifier instead of two).

    Taught in notebook 10: the classifier trained on each share of wrong labels, scored on clean test labels.
    """
    y_true, predicted, labels = list(y_true), list(predicted), list(labels)
    if len(y_true) != len(predicted) or not y_true:
        raise ConfigError(f"{len(y_true)} gold labels but {len(predicted)} predictions — they must be non-empty "
                          "and the same length: predict every test item")
    score = _label_metric(metric, len(labels))
    gold, pred = _label_codes(labels, y_true, predicted)
    low, high = _bootstrap((gold, pred), score, confidence, resamples, seed, vectorized=True)
    return float(score(gold, pred)), low, high


def mean_interval(scores, confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                  seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: one model's score with its bootstrap interval (how far 60 items can be trusted)."""
    values = _numeric(scores, "scores")
    low, high = _bootstrap((values,), lambda x, axis=-1: x.mean(axis), confidence, resamples, seed, vectorized=True)
    return float(values.mean()), low, high


def difference_table(differences):
    """One row per :class:`Difference` (a pandas DataFrame)."""
    import pandas as pd

    rows = [d.row() for d in differences]
    if not rows:
        raise ConfigError("no differences to tabulate — pass at least one Difference")
    return pd.DataFrame(rows).set_index("model")
