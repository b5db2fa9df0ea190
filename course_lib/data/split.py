"""Train / validation / test splits that keep each label's share, and leakage (near-duplicates across splits).

Taught in notebook 01; notebooks 02-05 split with :func:`stratified_split`, notebook 04 checks
:func:`find_leakage`.
"""

from __future__ import annotations

import random

from ..errors import ConfigError
from .dedup import find_duplicates
from .schema import example_text


def stratified_split(rows: list, label_key: str | None = None, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                     names=("train", "validation", "test")) -> dict[str, list]:
    """Shuffle and split ``rows`` keeping each label's share in every split (``label_key=None``: plain split).

    Each class is split on its own (rounded counts), so a class with at least as many rows as splits appears
    in each of them.
    """
    if abs(sum(fractions) - 1) > 1e-6 or len(fractions) != len(names):
        raise ConfigError(f"split fractions {fractions} must sum to 1 and match {names}")
    rng = random.Random(seed)
    groups: dict = {}
    for r in rows:
        groups.setdefault(r[label_key] if label_key else None, []).append(r)
    out = {n: [] for n in names}
    for key in sorted(groups, key=str):
        items = groups[key][:]
        rng.shuffle(items)
        n = len(items)
        counts = [int(round(f * n)) for f in fractions[1:]]
        if n >= len(names):
            counts = [max(1, c) for c in counts]
        start = n - sum(counts)
        out[names[0]].extend(items[:start])
        for name, c in zip(names[1:], counts):
            out[name].extend(items[start:start + c])
            start += c
    for name in names:
        rng.shuffle(out[name])
    return out


def find_leakage(splits: dict[str, list], task: str = "instruction", threshold: float = 90.0) -> list[tuple]:
    """Near-duplicate pairs that cross splits: ``[(split_a, i, split_b, j, score), ...]``.

    Runs :func:`find_duplicates` on all splits together and keeps pairs whose members sit in different splits
    (both an exact copy and a light edit of a training example in the test set count as leakage).
    """
    owners, texts = [], []
    for name, rows in splits.items():
        for i, r in enumerate(rows):
            owners.append((name, i))
            texts.append(example_text(r, task) if isinstance(r, dict) else str(r))
    pairs = []
    for d in find_duplicates(texts, threshold):
        (a, i), (b, j) = owners[d.of], owners[d.index]
        if a != b:
            pairs.append((a, i, b, j, d.score))
    return pairs
