"""Label quality: agreement between two labellers (Cohen's kappa), where they disagree, seeded label noise and
what it does to a classifier trained on it (notebook 10)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Agreement:
    """Two labellers' labels of the same N items.

    Attributes:
        name_a / name_b: who labelled. n: items.
        observed: share of items both gave the same label (0..1).
        expected: the share two labellers would agree on by chance, each keeping their own label frequencies.
        kappa: Cohen's kappa, ``(observed - expected) / (1 - expected)``: 1 = perfect, 0 = chance, below 0 = worse
            than chance (scikit-learn's ``cohen_kappa_score``; NaN when ``expected`` is 1, e.g. both always say
            the same one label).
    """

    name_a: str
    name_b: str
    kappa: float
    observed: float
    expected: float
    n: int

    def row(self) -> dict:
        return {"labeller A": self.name_a, "labeller B": self.name_b, "kappa": round(self.kappa, 3),
                "agreement": round(self.observed, 3), "by chance": round(self.expected, 3), "n": self.n}

    def __str__(self) -> str:
        return (f"{self.name_a} vs {self.name_b}: kappa {self.kappa:.2f} (agree on {100 * self.observed:.0f} % of "
                f"{self.n}, {100 * self.expected:.0f} % expected by chance)")


def agreement(labels_a, labels_b, name_a: str = "a", name_b: str = "b") -> Agreement:
    """:class:`Agreement` of two labellers (any hashable labels, one per item, same order)."""
    from sklearn.metrics import cohen_kappa_score

    labels_a, labels_b = [str(x) for x in labels_a], [str(x) for x in labels_b]
    if len(labels_a) != len(labels_b) or not labels_a:
        raise ConfigError(f"{name_a} gave {len(labels_a)} labels and {name_b} {len(labels_b)} — both must label "
                          "the same items, in the same order")
    n = len(labels_a)
    observed = sum(a == b for a, b in zip(labels_a, labels_b)) / n
    count_a, count_b = Counter(labels_a), Counter(labels_b)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / n ** 2
    if expected == 1:  # both labellers used one and the same label: kappa is 0/0
        kappa = float("nan")
    else:
        kappa = float(cohen_kappa_score(labels_a, labels_b))
    return Agreement(name_a, name_b, kappa, observed, expected, n)


def disagreements(labels_a, labels_b, name_a: str = "a", name_b: str = "b", top: int = 10):
    """The ``top`` most frequent pairs ``(label by A, label by B)`` where A and B differ: a DataFrame with
    columns ``name_a``, ``name_b`` and ``items``, most frequent first."""
    import pandas as pd

    pairs = Counter((str(a), str(b)) for a, b in zip(labels_a, labels_b) if str(a) != str(b))
    rows = [{name_a: a, name_b: b, "items": count} for (a, b), count in pairs.most_common(top)]
    return pd.DataFrame(rows, columns=[name_a, name_b, "items"])


def flip_labels(labels, rate: float, label_names, seed: int = 0) -> tuple[list[str], list[int]]:
    """``(noisy, flipped)``: a copy of ``labels`` with exactly ``round(rate * N)`` of them wrong.

    The items to flip are drawn at random (``random.Random(seed)``: the same seed flips the same items), and each
    gets one of the *other* labels of ``label_names``, uniformly: symmetric noise, the simplest model of a
    careless labeller. ``flipped``: the sorted indices that changed. Taught in notebook 10.
    """
    labels, label_names = [str(x) for x in labels], [str(x) for x in label_names]
    if not 0 <= rate <= 1:
        raise ConfigError(f"noise rate {rate} is not a share — give a number from 0 to 1 (0.1 = 10 % wrong)")
    if len(set(label_names)) < 2:
        raise ConfigError(f"label_names {label_names} hold fewer than two labels — a label can only be flipped "
                          "to another one")
    unknown = sorted(set(labels) - set(label_names))
    if unknown:
        raise ConfigError(f"labels {unknown[:5]} are not in label_names {label_names} — pass every class name")
    rng = random.Random(seed)
    flipped = sorted(rng.sample(range(len(labels)), round(rate * len(labels))))
    noisy = list(labels)
    for i in flipped:
        noisy[i] = rng.choice([name for name in label_names if name != labels[i]])
    return noisy, flipped


def noise_effects(gold, predictions: dict, labels, seed: int = 0):
    """``(table, drops)``: macro F1 of classifiers trained with different shares of wrong labels, on the same
    clean test items.

    Args:
        gold: the N clean test labels. predictions: ``{noise rate: N predicted labels}``; the first entry is the
            reference (normally rate 0). labels: the classes (macro F1 averages their F1).

    Returns:
        ``table``: a DataFrame, one row per rate: ``noise rate``, ``macro F1`` with its ``low`` / ``high`` 95 %
        bootstrap interval (``uncertainty.label_interval``), and ``drop`` (reference minus this rate) with
        ``drop low`` / ``drop high`` (``uncertainty.paired_label_difference``: the same items resampled for
        both). ``drops``: ``{rate: Difference}`` of the reference over each other rate.
    """
    import pandas as pd

    from ..uncertainty import label_interval, paired_label_difference

    if not predictions:
        raise ConfigError("no predictions to compare — pass {noise rate: predicted labels}, the clean run first")
    rates = list(predictions)
    reference = rates[0]
    rows, drops = [], {}
    for rate in rates:
        score, low, high = label_interval(gold, predictions[rate], labels, seed=seed)
        row = {"noise rate": rate, "macro F1": score, "low": low, "high": high}
        if rate != reference:
            drop = paired_label_difference(gold, predictions[reference], predictions[rate], labels,
                                           name_a=f"{reference:.0%} wrong labels", name_b=f"{rate:.0%} wrong labels",
                                           seed=seed)
            drops[rate] = drop
            row.update({"drop": drop.diff, "drop low": drop.low, "drop high": drop.high})
        rows.append(row)
    return pd.DataFrame(rows), drops
