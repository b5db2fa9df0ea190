"""Continuous learning: retraining on new data without forgetting, versioned runs, and a promotion gate.

A deployed model meets new data (a new batch of support conversations, corrections from user feedback). This
module is the pipeline that turns it into a new model version safely:

1. :func:`mix_replay` — the new examples plus a replayed sample of old ones (the classic cure for catastrophic
   forgetting: the optimiser keeps seeing the old distribution).
2. :func:`feedback_examples` — user feedback (answers marked bad, with a correction) becomes training data only
   after the same validation and cleaning as any other file (:mod:`course_lib.data`).
3. :func:`training_set_pii` — the privacy check every training set passes before training: no e-mail address,
   phone number or card number left (the detector is :mod:`course_lib.data`'s redactor), and none of a list of
   known planted values.
4. :class:`RunRegistry` — versioned runs ``v001, v002, ...`` under one folder, each with ``metrics.json`` and the
   runtime's ``stamp.json``, plus ``registry.json`` recording which version is in production.
5. :class:`PromotionGate` — promote a candidate only when it is not worse than the production model on every
   guarded metric (old test set: forgetting; new test set: the point of retraining); otherwise keep the old one.
6. :func:`retrain` / :func:`run_retrain` — all of it as one function and the ``python -m course_lib retrain`` command.
7. :func:`bias_probe` — template sentences that differ only in a name or group, scored by a sentiment model; the
   spread between groups and the share of templates whose label flips, before and after fine-tuning.

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError

# ----------------------------------------------------------------------------------------------------------------
# Replay
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Forgetting
# ----------------------------------------------------------------------------------------------------------------


def forgetting(before: float, after: float, higher_is_better: bool = False) -> float:
    """How much worse a metric on the *old* test set got after retraining (positive = forgot).

    For a loss (``higher_is_better=False``) it is ``after - before``; for an accuracy, ``before - after``.
    """
    return (before - after) if higher_is_better else (after - before)


# ----------------------------------------------------------------------------------------------------------------
# Versioned runs
# ----------------------------------------------------------------------------------------------------------------

_VERSION = re.compile(r"^v(\d{3,})$")


@dataclass
class RunRecord:
    """One version in a :class:`RunRegistry`.

    Attributes:
        version: ``"v001"``, ``"v002"``, ...
        parent: the version (or outside folder) it was trained from, ``None`` for the first.
        metrics: evaluation numbers (e.g. ``old_loss``, ``new_loss``), as written to ``metrics.json``.
        data: where its training data came from and how much (new, replayed, feedback).
        status: ``"production"``, ``"rejected"`` (failed the gate) or ``"retired"`` (replaced by a newer one).
        decision: the gate's reasons, one line each.
    """

    version: str
    parent: str | None
    metrics: dict
    data: dict = field(default_factory=dict)
    status: str = "candidate"
    decision: list[str] = field(default_factory=list)


class RunRegistry:
    """Versioned runs under one folder: ``ROOT/v001/``, ``ROOT/v002/``, ... and ``ROOT/registry.json``.

    Each version folder holds the model (``model/``: a LoRA adapter or full weights), ``metrics.json`` and
    ``stamp.json`` (:meth:`course_lib.runtime.Runtime.write_stamp`). ``registry.json`` lists every version and
    names the one in production. Writes go through a temporary file and a rename, so a crash never leaves a
    half-written registry.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @property
    def registry_file(self) -> Path:
        return self.root / "registry.json"

    def _read(self) -> dict:
        if not self.registry_file.exists():
            return {"production": None, "runs": []}
        try:
            return json.loads(self.registry_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(self.registry_file, f"not valid JSON ({err.msg})", "restore it from the version "
                            "folders' metrics.json or start a new --out folder") from None

    def _write(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.registry_file.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.registry_file)

    def runs(self) -> list[RunRecord]:
        """Every recorded version, oldest first."""
        return [RunRecord(**r) for r in self._read()["runs"]]

    def get(self, version: str) -> RunRecord:
        for run in self.runs():
            if run.version == version:
                return run
        raise ConfigError(f"run {version!r} is not in {self.registry_file} — known: "
                          f"{', '.join(r.version for r in self.runs()) or 'none'}")

    @property
    def production(self) -> str | None:
        """The version currently in production (``None`` before the first promotion)."""
        return self._read()["production"]

    def folder(self, version: str) -> Path:
        return self.root / version

    def next_version(self) -> str:
        """The next free version name (looks at the registry and at folders, so an aborted run is never reused)."""
        numbers = [int(m.group(1)) for p in (self.root.iterdir() if self.root.exists() else [])
                   if (m := _VERSION.match(p.name.lstrip(".").split(".tmp")[0]))]
        numbers += [int(_VERSION.match(r.version).group(1)) for r in self.runs()]
        return f"v{max(numbers, default=0) + 1:03d}"

    def record(self, run: RunRecord, promote: bool) -> RunRecord:
        """Add ``run``; when ``promote``, make it production and retire the previous one, else mark it rejected."""
        state = self._read()
        if any(r["version"] == run.version for r in state["runs"]):
            raise ConfigError(f"run {run.version} is already recorded in {self.registry_file}")
        if promote:
            for r in state["runs"]:
                if r["status"] == "production":
                    r["status"] = "retired"
            state["production"] = run.version
            run.status = "production"
        else:
            run.status = "rejected"
        state["runs"].append(asdict(run))
        self._write(state)
        return run

    def table(self):
        """A pandas DataFrame: one row per version with its status, parent, data counts and metrics."""
        import pandas as pd

        rows = [{"version": r.version, "status": r.status, "parent": r.parent, **r.data, **r.metrics}
                for r in self.runs()]
        return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# Promotion gate
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateRule:
    """One guarded metric: the candidate may be worse than production by at most ``tolerance`` (same units)."""

    metric: str
    higher_is_better: bool = False
    tolerance: float = 0.0


@dataclass
class GateDecision:
    """The gate's verdict: ``promote`` and one human-readable reason per rule."""

    promote: bool
    reasons: list[str]

    def __str__(self) -> str:
        verdict = "PROMOTE the candidate" if self.promote else "KEEP the production model"
        return verdict + "\n" + "\n".join(f"  - {r}" for r in self.reasons)


@dataclass(frozen=True)
class PromotionGate:
    """Promote a candidate only if no guarded metric regressed beyond its tolerance and the ``primary`` improved.

    Default rules, for losses on two fixed test sets (lower is better):
        ``old_loss``: the production model's old test set — guards against forgetting (tolerance 0.05 nats).
        ``new_loss``: the new data's test set — retraining must help here (primary: must strictly improve).
    """

    rules: tuple[GateRule, ...] = (GateRule("old_loss", tolerance=0.05), GateRule("new_loss", tolerance=0.0))
    primary: str = "new_loss"

    def decide(self, candidate: dict, production: dict | None) -> GateDecision:
        """Compare metric dicts; with no production model yet, the candidate is promoted."""
        if production is None:
            return GateDecision(True, ["no model in production yet: the first run is promoted"])
        reasons, ok = [], True
        for rule in self.rules:
            for name, metrics in (("candidate", candidate), ("production", production)):
                if rule.metric not in metrics:
                    raise ConfigError(f"the gate needs metric {rule.metric!r} but the {name} has only "
                                      f"{sorted(metrics)} — evaluate both models on the same test sets")
            new, old = float(candidate[rule.metric]), float(production[rule.metric])
            worse_by = (old - new) if rule.higher_is_better else (new - old)
            passed = worse_by <= rule.tolerance
            if rule.metric == self.primary and worse_by >= 0:
                passed = False  # the primary metric must strictly improve, or retraining bought nothing
            ok &= passed
            trend = "better" if worse_by < 0 else ("equal" if worse_by == 0 else "worse")
            reasons.append(f"{rule.metric}: {old:.4f} -> {new:.4f} ({trend} by {abs(worse_by):.4f}; "
                           f"{'primary, must improve' if rule.metric == self.primary else f'tolerance {rule.tolerance:g}'})"
                           f" {'ok' if passed else 'FAIL'}")
        return GateDecision(ok, reasons)


# ----------------------------------------------------------------------------------------------------------------
# Bias probe
# ----------------------------------------------------------------------------------------------------------------

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
