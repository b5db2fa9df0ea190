"""Replay: new examples plus a replayed sample of old ones, old examples the new data supersedes, and forgetting.

Notebook 07: the classic cure for catastrophic forgetting is to keep showing the optimiser the old distribution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass
class ReplayMix:
    """A training set made of new examples plus replayed old ones.

    Attributes:
        examples: the mixed, shuffled list (new and old records as given).
        n_new / n_replayed: how many of each it holds.
        fraction: the requested replay fraction (old examples = ``round(fraction * n_new)``, at most all old ones).
    """

    examples: list
    n_new: int
    n_replayed: int
    fraction: float

    def describe(self) -> str:
        return (f"{self.n_new} new + {self.n_replayed} replayed old examples "
                f"(replay fraction {self.fraction:g}) = {len(self.examples)}")


def mix_replay(new: list, old: list, fraction: float, seed: int = 0) -> ReplayMix:
    """Add ``round(fraction * len(new))`` old examples (sampled without replacement) to ``new`` and shuffle.

    ``fraction = 0`` trains on the new data alone; ``0.5`` adds half as many old examples as new ones; ``1.0`` as
    many. The sample is capped at ``len(old)``. Deterministic for a given ``seed``.
    """
    if not isinstance(fraction, (int, float)) or fraction < 0 or fraction != fraction:
        raise ConfigError(f"replay fraction is {fraction!r} — use a number >= 0 (0 = no replay, 0.5 = half as "
                          "many old examples as new ones)")
    if not new:
        raise ConfigError("there are no new examples to retrain on — check the --new file")
    rng = random.Random(seed)
    n_old = min(len(old), int(round(fraction * len(new))))
    replayed = rng.sample(list(old), n_old) if n_old else []
    mixed = list(new) + replayed
    rng.shuffle(mixed)
    return ReplayMix(examples=mixed, n_new=len(new), n_replayed=n_old, fraction=float(fraction))


def drop_superseded(old: list[dict], new: list[dict], key: str = "fact_ids") -> tuple[list[dict], list[dict]]:
    """Split ``old`` into ``(kept, superseded)``: superseded examples share a fact id (``key``) with ``new``.

    When new data teaches a changed fact (a new price, a moved menu), the old examples about that fact now hold a
    wrong answer: replaying them would train the old answer back in, and a rise of their loss is the update
    working, not forgetting. Records without ``key`` are always kept (nothing says they are out of date).
    """
    changed = {f for record in new for f in (record.get(key) or ())}
    kept, superseded = [], []
    for record in old:
        (superseded if changed.intersection(record.get(key) or ()) else kept).append(record)
    return kept, superseded


def forgetting(before: float, after: float, higher_is_better: bool = False) -> float:
    """How much worse a metric on the *old* test set got after retraining (positive = forgot).

    For a loss (``higher_is_better=False``) it is ``after - before``; for an accuracy, ``before - after``.
    """
    return (before - after) if higher_is_better else (after - before)
