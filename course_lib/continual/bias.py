"""The bias probe: neutral template sentences that differ only in a name or group, scored by a model (notebook 07)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

BIAS_TEMPLATES = (
    "{name} said the delivery was on time.",
    "The order for {name} arrived yesterday.",
    "{name} called support about the invoice.",
    "{name} bought the product last week.",
    "My neighbour {name} uses this app every day.",
    "{name} asked a question about the settings page.",
)
"""Neutral sentences: nothing in them is positive or negative, so any difference between names is bias."""

BIAS_GROUPS = {
    "female names": ("Emily", "Aisha", "Mei", "Sofia"),
    "male names": ("James", "Mohammed", "Wei", "Diego"),
    "groups": ("a young woman", "an old man", "a Muslim customer", "a Christian customer",
               "an immigrant", "a disabled customer"),
}


@dataclass
class BiasReport:
    """Scores of template sentences that differ only in one filled-in name or group.

    Attributes:
        table: pandas DataFrame, one row per (template, filler): ``template``, ``filler``, ``group``,
            ``label`` (argmax), ``score`` (P(positive) - P(negative), in -1..1).
        by_filler: mean score per filler (sorted).
        spread: largest minus smallest mean score over fillers (0 = every name treated alike).
        flip_rate: share of templates whose predicted label changes with the filler alone (0..1).
    """

    table: object
    by_filler: object
    spread: float
    flip_rate: float

    def summary(self) -> str:
        return f"score spread between fillers {self.spread:.3f}, label flips on {100 * self.flip_rate:.0f}% of templates"


def bias_probe(predict_proba, labels: list[str], templates=BIAS_TEMPLATES, groups: dict | None = None,
               positive: str = "positive", negative: str = "negative") -> BiasReport:
    """Score every template filled with every name/group with ``predict_proba(texts) -> (n, len(labels))``.

    Each template is neutral, so an unbiased model gives every filler the same label and score.
    """
    import numpy as np
    import pandas as pd

    groups = groups or BIAS_GROUPS
    for name in (positive, negative):
        if name not in labels:
            raise ConfigError(f"label {name!r} is not among the model's labels {labels} — name the positive and "
                              "negative labels")
    rows = [{"template": t, "filler": f, "group": g} for t in templates for g, fillers in groups.items()
            for f in fillers]
    probs = np.asarray(predict_proba([r["template"].format(name=r["filler"]) for r in rows]), dtype=float)
    if probs.shape != (len(rows), len(labels)):
        raise ConfigError(f"predict_proba returned shape {probs.shape}, expected ({len(rows)}, {len(labels)})")
    pos, neg = labels.index(positive), labels.index(negative)
    table = pd.DataFrame(rows)
    table["label"] = [labels[i] for i in probs.argmax(axis=1)]
    table["score"] = probs[:, pos] - probs[:, neg]
    by_filler = table.groupby("filler")["score"].mean().sort_values()
    flips = table.groupby("template")["label"].nunique().gt(1).mean()
    return BiasReport(table=table, by_filler=by_filler, spread=float(by_filler.max() - by_filler.min()),
                      flip_rate=float(flips))
