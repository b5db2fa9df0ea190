"""Continuous learning: retraining on new data without forgetting, versioned runs, and a promotion gate.

A deployed model meets new data (a new batch of support conversations, corrections from user feedback). This
module is the pipeline that turns it into a new model version safely:

1. :func:`mix_replay` — the new examples plus a replayed sample of old ones (the classic cure for catastrophic
   forgetting: the optimiser keeps seeing the old distribution).
   :func:`drop_superseded` leaves out old examples about facts the new data changes (replaying them would
   teach the old answer again; scoring them would call the intended update "forgetting").
2. :func:`feedback_examples` — user feedback (answers marked bad, with a correction) becomes training data only
   after the same validation and cleaning as any other file (:func:`course_lib.data.prepare`).
3. :func:`training_set_pii` — the privacy check every training set passes before training: no e-mail address,
   phone number or card number left (the detector is :mod:`course_lib.data`'s redactor), and none of a list of
   known planted values.
4. :class:`RunRegistry` — versioned runs ``v001, v002, ...`` under one folder, each with ``metrics.json`` and the
   runtime's ``stamp.json``, plus ``registry.json`` recording which version is in production
   (:meth:`RunRegistry.rollback` puts an earlier version back).
5. :class:`PromotionGate` — promote a candidate only when it is not worse than the production model on every
   guarded metric (old test set: forgetting; new test set: the point of retraining); otherwise keep the old one.
6. :func:`retrain` / :func:`run_retrain` — all of it as one function and the ``python -m course_lib retrain`` command.
7. :func:`bias_probe` — template sentences that differ only in a name or group, scored by a sentiment model; the
   spread between groups and the share of templates whose label flips, before and after fine-tuning.

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .files import staging_path, write_json_atomic
from .runtime import DEFAULT_DECODER

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


# ----------------------------------------------------------------------------------------------------------------
# Forgetting
# ----------------------------------------------------------------------------------------------------------------


def forgetting(before: float, after: float, higher_is_better: bool = False) -> float:
    """How much worse a metric on the *old* test set got after retraining (positive = forgot).

    For a loss (``higher_is_better=False``) it is ``after - before``; for an accuracy, ``before - after``.
    """
    return (before - after) if higher_is_better else (after - before)


# ----------------------------------------------------------------------------------------------------------------
# Feedback
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class FeedbackResult:
    """User feedback turned into training examples by :func:`feedback_examples`.

    Attributes:
        examples: validated instruction records ``{"instruction", "input", "output", "row"}`` (``output`` is the
            user's correction, cleaned and PII-redacted; ``row`` the 1-based position in the feedback).
        n_read: feedback items read; n_bad: items marked bad (the only ones that can become examples).
        report: :func:`course_lib.data.prepare`'s quality report on the items marked bad (drops by reason, PII
            redacted), exactly as for any data file.
        removed: ``(row, reason, detail)`` for every item marked bad that did not become an example.
    """

    examples: list
    n_read: int
    n_bad: int
    report: object
    removed: list

    def describe(self) -> str:
        dropped = ", ".join(f"{k} {v}" for k, v in self.report.dropped.items() if v) or "none"
        return (f"{self.n_read} feedback items, {self.n_bad} marked bad -> {len(self.examples)} training examples "
                f"(dropped: {dropped}; PII redacted: {self.report.pii_redacted})")


def feedback_examples(feedback, rating_field: str = "rating", bad_values=("bad",),
                      correction_field: str = "correction", config=None) -> FeedbackResult:
    """Training examples from user feedback: the items rated bad, with the user's correction as the answer.

    Args:
        feedback: a path (CSV/JSON/JSONL, as :func:`course_lib.data.load_table` reads) or a list of dicts, each
            with the question (``instruction``/``question``...), optional context (``input``), ``rating_field``
            and ``correction_field``; other fields (e.g. the model's rejected answer) are ignored, never trained on.
        bad_values: ratings that mark an answer bad (compared case-insensitively).
        config: a :class:`course_lib.data.PrepConfig` (default: clean, redact PII, drop empty answers and
            duplicates) — the same validation every training file gets, so a correction with no text, a
            customer's e-mail address or a duplicate never reaches training.

    Raises :class:`DataError` for unusable feedback (no question column, nested values ...), naming the item.
    """
    from . import data

    if isinstance(feedback, (str, os.PathLike)):
        table = data.load_table(feedback)
    elif isinstance(feedback, list):
        columns = list(dict.fromkeys(k for item in feedback for k in item))
        table = data.Table(path=f"<{len(feedback)} feedback items>", fmt="json", columns=columns,
                           records=list(feedback), rows=list(range(1, len(feedback) + 1)))
    else:
        raise ConfigError(f"feedback must be a path or a list of dicts, not {type(feedback).__name__}")
    for name in (rating_field, correction_field):
        if name not in table.columns:
            raise DataError(table.path, f"no {name!r} field; fields found: {', '.join(table.columns) or 'none'}",
                            f"export the feedback with a {name!r} field, or pass {name}_field=... to name it")
    bad = {str(v).strip().lower() for v in bad_values}
    marked = [(row, rec) for row, rec in zip(table.rows, table.records)
              if str(rec.get(rating_field, "")).strip().lower() in bad]
    subset = data.Table(path=table.path, fmt=table.fmt, columns=table.columns,
                        records=[rec for _, rec in marked], rows=[row for row, _ in marked])
    if not marked:
        report = data.QualityReport(path=table.path, task="instruction", columns={})
        return FeedbackResult(examples=[], n_read=len(table), n_bad=0, report=report, removed=[])
    prepared = data.prepare(subset, "instruction", columns={"output": correction_field},
                            config=config or data.PrepConfig())
    return FeedbackResult(examples=prepared.rows, n_read=len(table), n_bad=len(marked), report=prepared.report,
                          removed=prepared.removed)


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
        write_json_atomic(self.registry_file, state)

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

    def rollback(self, version: str | None = None, reason: str = "rolled back by hand") -> RunRecord:
        """Put ``version`` (default: the newest retired version) back into production; return its record.

        The version's folder must still exist. The current production model becomes ``retired``; the reason is
        appended to the restored version's ``decision``, so the history shows the rollback.
        """
        state = self._read()
        runs = state["runs"]
        if version is None:
            retired = [r for r in runs if r["status"] == "retired"]
            if not retired:
                raise ConfigError(f"no retired version to roll back to in {self.registry_file} — name one: "
                                  f"{', '.join(r['version'] for r in runs) or 'none recorded'}")
            version = retired[-1]["version"]
        target = next((r for r in runs if r["version"] == version), None)
        if target is None:
            raise ConfigError(f"run {version!r} is not in {self.registry_file} — known: "
                              f"{', '.join(r['version'] for r in runs) or 'none'}")
        if not self.folder(version).is_dir():
            raise ConfigError(f"the folder of {version} ({self.folder(version)}) is gone — restore it from a backup "
                              "before rolling back to it")
        for r in runs:
            if r["status"] == "production" and r["version"] != version:
                r["status"] = "retired"
        target["status"] = "production"
        target["decision"] = [*target.get("decision", []), f"{reason} (was {state['production']})"]
        state["production"] = version
        self._write(state)
        return RunRecord(**target)

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


# ----------------------------------------------------------------------------------------------------------------
# Loading a run (a chain of LoRA adapters) and measuring it
# ----------------------------------------------------------------------------------------------------------------

LINEAGE_FILE = "lineage.json"
RUN_FILE = "run.json"


def run_adapters(folder: str | os.PathLike) -> tuple[str, list[Path]]:
    """The base model name and the adapter folders, oldest first, that make up the run in ``folder``.

    A run folder is what :func:`course_lib.train.train` writes (``adapter/`` + ``metrics.json`` + ``stamp.json``)
    and, for a retrained version, ``parents/00``, ``parents/01``, ... : the adapters of its ancestors, each trained
    on top of the previous ones merged into the weights (``lineage.json`` lists them). Copying the ancestors'
    adapters (a few MB each) keeps every version folder self-contained.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"run folder {folder} does not exist — pass the --out folder of `python -m course_lib "
                          "train` or a version folder such as runs/v001")
    lineage = folder / LINEAGE_FILE
    if lineage.exists():
        info = json.loads(lineage.read_text(encoding="utf-8"))
        return info["base_model"], [folder / p for p in info["adapters"]]
    if (folder / "adapter" / "adapter_config.json").exists():
        base_file = folder / "adapter" / "course_base_model.txt"
        base = base_file.read_text(encoding="utf-8").strip() if base_file.exists() else DEFAULT_DECODER
        return base, [folder / "adapter"]
    raise ConfigError(f"{folder} holds no LoRA adapter (adapter/adapter_config.json) — retraining starts from a LoRA "
                      "run: train one with `python -m course_lib train --method lora --out DIR`")


def load_run(folder, runtime=None):
    """Load a run as a plain model: the base decoder with every adapter of the chain merged in, in order.

    Returns ``(model, tokenizer)`` in eval mode. Merging (``W + (alpha / r) * B @ A``) makes the next adapter train
    on top of the run's behaviour, and inference needs no peft.
    """
    from peft import PeftModel

    from . import models, train

    base, adapters = run_adapters(folder)
    model, tokenizer = models.load_causal_lm(base, runtime=runtime, verbose=False)
    for adapter in adapters:
        with train.quiet_peft_warning():
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    return model, tokenizer


def response_loss(model, tokenizer, records: list[dict], max_len: int, batch_size: int = 8,
                  system_prompt: str | None = None) -> float:
    """Mean negative log-likelihood per *answer* token (nats) of ``records`` — what training minimises.

    Tokenized exactly as for training (:func:`course_lib.formatting.tokenize_dataset`: prompt tokens masked, the
    answer and its EOS scored), so the number is comparable with the Trainer's ``eval_loss`` but token-weighted
    over the whole set (independent of ``batch_size``). Lower is better; a rise on the old test set after
    retraining is forgetting.
    """
    import torch

    from . import formatting

    features, _ = formatting.tokenize_dataset(records, tokenizer, max_len, system_prompt)
    collate = formatting.CausalCollator(tokenizer.pad_token_id)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(features), batch_size):
            batch = collate(features[start:start + batch_size])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            for row_logits, row_labels in zip(logits, batch["labels"]):
                losses = formatting.per_token_losses(row_logits, row_labels)
                scored = row_labels[1:] != formatting.IGNORE_INDEX
                total += float(losses[scored].sum())
                count += int(scored.sum())
    finally:
        model.train(was_training)
    if count == 0:
        raise ConfigError("no answer tokens to score — the test records are empty or truncated away")
    return total / count


# ----------------------------------------------------------------------------------------------------------------
# The retraining pipeline
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class RetrainConfig:
    """One retraining job (what ``python -m course_lib retrain`` builds from its arguments).

    Attributes:
        base: the run to start from: a folder (``train`` output or a version folder), a version name in ``out``,
            or ``"production"`` (the version ``out`` serves now).
        new_data: the new instruction records (path or list of dicts).
        out: the versioned runs folder (``registry.json`` + ``v001``, ``v002``, ...).
        replay: old examples added per new example (0 = new data alone; see :func:`mix_replay`).
        old_data: the data the base was trained on: a path, a list of records, or a list of paths (oldest first).
            It is the replay pool and, held out file by file with the same seed as :func:`course_lib.train.train`
            and earlier retrainings held out their test sets, the old test set that measures forgetting.
            ``None``: every file in the ``train_data`` the base's ``run.json`` records — the original data and
            each batch earlier retrainings added — so a chain of retrainings replays all of its history.
        old_test: the old examples the base never trained on, when its run held out its test set some other way
            than :func:`course_lib.train.split_records` (notebook 07 reuses notebook 03's adapter, whose test set
            is the test part of a stratified split). They are the old test set as given, and ``old_data`` minus
            them is the replay pool. ``None``: each old file is split as described under ``old_data``.
        columns: course field -> file column for every file read from a path, new and old (``retrain --map``);
            ``None``: common column names are detected (:func:`course_lib.data.resolve_columns`).
        gate: the promotion rule.
        train_config: a :class:`course_lib.train.TrainConfig` (``None``: LoRA, ``retrain_steps`` optimiser steps
            from the profile, the profile's learning rate).
        test_examples: size of each test set (``None``: the profile's ``eval_examples``, else 50).
        drop_superseded: leave old examples about facts the new data teaches (shared ``fact_ids``) out of the
            replay pool and the old test set (:func:`drop_superseded`); the new test set measures those facts.
        known_pii: values that must not appear in the training set (e.g. every value planted in a raw export),
            checked by :func:`training_set_pii` on top of its PII detector.
        keep_checkpoints: keep ``checkpoints/`` in the version folder (off: they hold optimiser states, ~3x the
            adapter's size, and a finished run does not need them).
    """

    base: str | os.PathLike
    new_data: object
    out: str | os.PathLike
    replay: float = 0.0
    old_data: object = None
    old_test: list | None = None
    columns: dict | None = None
    gate: PromotionGate = field(default_factory=PromotionGate)
    train_config: object = None
    test_examples: int | None = None
    drop_superseded: bool = True
    known_pii: tuple = ()
    keep_checkpoints: bool = False


@dataclass
class RetrainResult:
    """What :func:`retrain` did: the recorded version, the gate's decision and the numbers behind it.

    ``base_metrics`` / ``candidate_metrics``: ``old_loss`` and ``new_loss`` (nats per answer token) of the run
    retrained from and of the new version. ``production_metrics``: of the version in production when the gate
    ran (the gate compares against it; the same as ``base_metrics`` when the base is production).
    ``forgetting`` is the candidate's old-test loss minus the base's (> 0 = forgot). ``n_superseded``: old
    examples left out because the new data changes their facts.
    """

    record: RunRecord
    decision: GateDecision
    folder: Path
    base_metrics: dict
    candidate_metrics: dict
    production_metrics: dict
    production_version: str | None
    mix: ReplayMix
    n_superseded: int
    train_summary: dict
    model: object = field(default=None, repr=False)
    tokenizer: object = field(default=None, repr=False)

    @property
    def forgetting(self) -> float:
        return forgetting(self.base_metrics["old_loss"], self.candidate_metrics["old_loss"])


def _records(source, what: str, columns: dict | None = None) -> tuple[list[dict], str]:
    from .train import read_records

    if isinstance(source, (str, os.PathLike)):
        return read_records(source, columns), str(Path(source).resolve())
    if isinstance(source, list):
        return list(source), f"<{len(source)} {what} records in memory>"
    raise ConfigError(f"{what} data must be a path or a list of records, not {type(source).__name__}")


def _is_path(source) -> bool:
    return isinstance(source, (str, os.PathLike))


def _recorded_train_data(run_folder: Path) -> list[str]:
    """The ``train_data`` a run's ``run.json`` records, oldest first (empty when there is no such file)."""
    run_file = run_folder / RUN_FILE
    return json.loads(run_file.read_text(encoding="utf-8")).get("train_data", []) if run_file.exists() else []


def _old_sources(old_data, base_folder: Path) -> list:
    """The old data as a list of sources (paths or in-memory record lists), oldest first.

    ``None``: every file the base's ``run.json`` records (its original data, then each retraining's new batch).
    """
    if old_data is not None:
        if isinstance(old_data, (list, tuple)) and old_data and all(_is_path(item) for item in old_data):
            return list(old_data)
        return [old_data]
    recorded = _recorded_train_data(base_folder)
    if not recorded:
        raise ConfigError(f"the base run {base_folder} does not record its training data — pass it with --old "
                          "PATH (needed for replay and to measure forgetting on the old test set)")
    in_memory = [text for text in recorded if text.startswith("<")]
    if in_memory:
        raise ConfigError(f"the base run {base_folder} was trained on records passed in memory ({in_memory[0]}), "
                          "which run.json cannot replay — pass the old data with --old PATH [PATH ...] (Python: "
                          "RetrainConfig(old_data=...))")
    return recorded


def _old_splits(sources: list, new_records: list[dict], n_test: int, seed: int, drop: bool,
                columns: dict | None = None) -> tuple[list[dict], list[dict], int, list[str]]:
    """Split each old source the way its own run did and pool the parts: ``(train, test, n_superseded, texts)``.

    Each file is split with :func:`course_lib.train.split_records` (``n_test`` held out, ``seed``) — the test set
    the run that first trained on it held out, so the old test set stays unseen. With ``drop``, an example whose
    fact a *later* source or the new records change (:func:`drop_superseded`) leaves both parts: an earlier batch's
    answer about a price the next batch revised is no longer true.
    """
    from .train import split_records

    loaded = [_records(source, "old", columns) for source in sources]
    pooled_train, pooled_test, n_superseded = [], [], 0
    for index, (records, _) in enumerate(loaded):
        part_train, part_test = split_records(records, n_test, seed)
        if drop:
            later = [r for later_records, _ in loaded[index + 1:] for r in later_records] + list(new_records)
            part_train, gone_train = drop_superseded(part_train, later)
            part_test, gone_test = drop_superseded(part_test, later)
            n_superseded += len(gone_train) + len(gone_test)
        pooled_train += part_train
        pooled_test += part_test
    return pooled_train, pooled_test, n_superseded, [text for _, text in loaded]


def _given_old_split(sources: list, old_test: list[dict], new_records: list[dict], drop: bool,
                     columns: dict | None = None) -> tuple[list[dict], list[dict], int, list[str]]:
    """``(train, test, n_superseded, texts)`` when the old test set is given: every old example that is not in it
    is the replay pool; with ``drop``, examples about facts the new records change leave both (as in
    :func:`_old_splits`)."""
    loaded = [_records(source, "old", columns) for source in sources]
    test = list(old_test)
    held_out = {json.dumps(record, sort_keys=True) for record in test}
    pool = [r for records, _ in loaded for r in records if json.dumps(r, sort_keys=True) not in held_out]
    n_superseded = 0
    if drop:
        pool, gone_pool = drop_superseded(pool, new_records)
        test, gone_test = drop_superseded(test, new_records)
        n_superseded = len(gone_pool) + len(gone_test)
    return pool, test, n_superseded, [text for _, text in loaded]


def _split_old(config: RetrainConfig, sources: list, new_records: list[dict], n_test: int, seed: int):
    """The old data's ``(replay pool, test set, n_superseded, source texts)``: the test set given in
    ``config.old_test``, else each file held out the way its run did (:func:`_old_splits`)."""
    if config.old_test is not None:
        return _given_old_split(sources, config.old_test, new_records, config.drop_superseded, config.columns)
    return _old_splits(sources, new_records, n_test, seed, config.drop_superseded, config.columns)


def _resolve_base(base, registry: RunRegistry) -> Path:
    text = str(base)
    if text == "production":  # what a scheduled job retrains: whatever the registry serves now
        if registry.production is None:
            raise ConfigError(f"--base production: {registry.registry_file} has no production model yet — pass the "
                              "folder of a trained run for the first retraining")
        return registry.folder(registry.production)
    if _VERSION.match(text):
        registry.get(text)  # a clear error when unknown
        return registry.folder(text)
    return Path(base)


def _copy_lineage(base_folder: Path, staging: Path) -> dict:
    """Copy the base run's adapters into ``staging/parents/NN`` and return the new lineage."""
    base_model, adapters = run_adapters(base_folder)
    parents = []
    for n, adapter in enumerate(adapters):
        target = staging / "parents" / f"{n:02d}"
        shutil.copytree(adapter, target)
        parents.append(str(target.relative_to(staging)))
    return {"base_model": base_model, "adapters": [*parents, "adapter"]}


def _import_base(registry: RunRegistry, base_folder: Path, old_source_texts: list[str], metrics: dict, rt) -> Path:
    """Copy an outside base run into the empty registry as its first version, in production; return its folder."""
    imported = registry.next_version()
    staging = staging_path(registry.folder(imported))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    base_model, adapters = run_adapters(base_folder)
    lineage = {"base_model": base_model, "adapters": []}
    for n, adapter in enumerate(adapters):
        name = "adapter" if n == len(adapters) - 1 else f"parents/{n:02d}"
        shutil.copytree(adapter, staging / name)
        lineage["adapters"].append(name)
    (staging / LINEAGE_FILE).write_text(json.dumps(lineage, indent=2), encoding="utf-8")
    (staging / RUN_FILE).write_text(json.dumps({"train_data": old_source_texts, "imported_from":
                                                str(base_folder.resolve())}, indent=2), encoding="utf-8")
    rt.write_stamp(staging, extra={"metrics": metrics, "imported_from": str(base_folder.resolve())})
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    os.replace(staging, registry.folder(imported))  # a new version: a plain rename never replaces an old one
    registry.record(RunRecord(imported, str(base_folder), metrics, {"source": "imported base"},
                              decision=["imported as the first production model"]), promote=True)
    return registry.folder(imported)


def retrain(config: RetrainConfig, runtime=None) -> RetrainResult:
    """Retrain the base run on new data (plus replay), evaluate old vs new, gate, and record a new version.

    Steps: read and split the data (old test + new test held out) -> leave out superseded old examples -> mix
    replay -> privacy check of the mixed training set (:func:`training_set_pii`) -> measure the base on both test
    sets -> train a LoRA adapter on top of the merged base -> measure the candidate -> gate against the production
    model -> write ``vNNN/`` (adapter, parents, metrics.json, run.json, stamp.json) and update ``registry.json``.
    The version folder is assembled under a temporary name and renamed at the end: a crash leaves no half-written
    version. The first retraining into an empty ``out`` imports the base as ``v001`` (in production).
    """
    from . import runtime as runtime_mod
    from . import train as train_mod

    rt = runtime or runtime_mod.setup("auto")
    registry = RunRegistry(config.out)
    base_folder = _resolve_base(config.base, registry)
    run_adapters(base_folder)  # fail early on a base that is not a LoRA run

    new_records, new_source = _records(config.new_data, "new", config.columns)
    old_sources = _old_sources(config.old_data, base_folder)
    n_test = config.test_examples or rt.profile.eval_examples or 50
    new_train, new_test = train_mod.split_records(new_records, n_test, rt.seed)
    old_train, old_test, n_superseded, old_source_texts = _split_old(config, old_sources, new_records, n_test,
                                                                      rt.seed)
    if not old_test:
        raise ConfigError("every old test example is about a fact the new data changes — nothing is left to "
                          "measure forgetting on; pass more old data or RetrainConfig(drop_superseded=False)")
    mix = mix_replay(new_train, old_train, config.replay, seed=rt.seed)
    leaks = training_set_pii(mix.examples, known_values=config.known_pii)
    if leaks:
        first = leaks[0]
        raise DataError(new_source, f"{len(leaks)} pieces of personal data in the training set (first: {first['kind']} "
                        f"in example {first['index']})", "clean the file with course_lib.data (PII redaction) first")

    train_cfg = config.train_config or train_mod.TrainConfig(method="lora", live="off",
                                                             max_steps=rt.profile.retrain_steps)
    if getattr(train_cfg, "method", "lora") != "lora":
        raise ConfigError("retraining adds a LoRA adapter on top of the base run — use TrainConfig(method='lora')")
    if train_cfg.train_examples is None:  # the mix is the training set: no subsample down to the profile's size
        train_cfg = dataclasses.replace(train_cfg, train_examples=len(mix.examples))
    max_len = train_cfg.max_seq_len or rt.profile.max_seq_len

    def measure(model, tokenizer) -> dict:
        return {"old_loss": response_loss(model, tokenizer, old_test, max_len, system_prompt=train_cfg.system_prompt),
                "new_loss": response_loss(model, tokenizer, new_test, max_len, system_prompt=train_cfg.system_prompt)}

    model, tokenizer = load_run(base_folder, runtime=rt)
    base_metrics = measure(model, tokenizer)
    if registry.production is None:
        base_folder = _import_base(registry, base_folder, old_source_texts, base_metrics, rt)
    production = registry.production
    production_metrics = base_metrics
    if registry.folder(production).resolve() != base_folder.resolve():
        production_model, _ = load_run(registry.folder(production), runtime=rt)
        production_metrics = measure(production_model, tokenizer)
        del production_model

    version = registry.next_version()
    staging = staging_path(registry.folder(version))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        lineage = _copy_lineage(base_folder, staging)
        # No evaluation inside training: both test sets are measured right after, token-weighted (response_loss).
        result = train_mod.train(mix.examples, [], config=train_cfg, runtime=rt, output_dir=staging,
                                 model=model, tokenizer=tokenizer, title=f"{version} (replay {config.replay:g})")
        candidate_metrics = measure(result.model, tokenizer)
        decision = config.gate.decide(candidate_metrics, production_metrics)
        data = {"n_new": mix.n_new, "n_replayed": mix.n_replayed, "replay": mix.fraction,
                "n_superseded": n_superseded, "n_old_test": len(old_test), "n_new_test": len(new_test)}
        history = _recorded_train_data(base_folder)  # base_folder may now be the imported copy
        run_info = {"base": str(base_folder), "train_data": [*(history or old_source_texts), new_source],
                    "new_data": new_source, "old_data": old_source_texts, **data}
        (staging / LINEAGE_FILE).write_text(json.dumps(lineage, indent=2), encoding="utf-8")
        (staging / RUN_FILE).write_text(json.dumps(run_info, indent=2), encoding="utf-8")
        metrics = {**candidate_metrics, "forgetting": forgetting(base_metrics["old_loss"], candidate_metrics["old_loss"]),
                   "base_old_loss": base_metrics["old_loss"], "base_new_loss": base_metrics["new_loss"],
                   "gated_against": production}
        (staging / "metrics.json").write_text(json.dumps({**metrics, "train": result.summary(),
                                                          "gate": decision.reasons, "promoted": decision.promote},
                                                         indent=2, default=str), encoding="utf-8")
        rt.write_stamp(staging, extra={"metrics": metrics, "train": result.summary(), "data": run_info,
                                       "gate": {"promote": decision.promote, "reasons": decision.reasons}})
        if not config.keep_checkpoints:
            shutil.rmtree(staging / train_mod.CHECKPOINT_DIR, ignore_errors=True)
        os.replace(staging, registry.folder(version))  # a new version: never files.replace_folder over an old one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record = registry.record(RunRecord(version, base_folder.name if base_folder.parent == registry.root
                                       else str(base_folder), metrics, data, decision=decision.reasons),
                             promote=decision.promote)
    summary = result.summary()
    summary["final_dir"] = str(registry.folder(version) / "adapter")
    return RetrainResult(record=record, decision=decision, folder=registry.folder(version), base_metrics=base_metrics,
                         candidate_metrics=candidate_metrics, production_metrics=production_metrics,
                         production_version=production, mix=mix, n_superseded=n_superseded, train_summary=summary,
                         model=result.model, tokenizer=tokenizer)


def _read_known_values(path) -> tuple[str, ...]:
    """Values to search for: a JSON file with a ``pii_values`` mapping (a raw export's manifest) or a list, or a
    text file with one value per line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(path, "no such file", "pass a manifest (JSON with pii_values) or a text file, one value a line")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(path, f"not valid JSON ({err.msg})", "fix the file or use one value per line",
                            row=err.lineno) from None
        values = payload.get("pii_values", payload) if isinstance(payload, dict) else payload
        if isinstance(values, dict):
            values = [v for group in values.values() for v in group]
        if not isinstance(values, list):
            raise DataError(path, "holds neither a list nor a pii_values mapping", "write a JSON list of values")
        return tuple(str(v) for v in values)
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def run_retrain(args) -> int:
    """Handler of ``python -m course_lib retrain`` (the same :func:`retrain` the notebook calls)."""
    from . import data
    from . import runtime as runtime_mod
    from .train import TrainConfig

    if args.profile != "auto":
        runtime_mod.get_profile(args.profile)
    if args.replay < 0:
        raise ConfigError(f"--replay is {args.replay} — use a number >= 0 (0.5 = half as many old examples as new)")
    known = _read_known_values(args.known_pii) if getattr(args, "known_pii", None) else ()
    columns = data.parse_mapping(args.map)
    rt = runtime_mod.setup(args.profile, args.seed)
    config = RetrainConfig(base=args.base, new_data=args.new, out=args.out, replay=args.replay, old_data=args.old,
                           gate=PromotionGate(rules=(GateRule("old_loss", tolerance=args.max_forgetting),
                                                     GateRule("new_loss"))),
                           train_config=TrainConfig(method="lora", live="off" if args.quiet else "text",
                                                    max_steps=args.max_steps or rt.profile.retrain_steps),
                           known_pii=known, columns=columns)
    result = retrain(config, runtime=rt)
    print(f"{result.record.version}: {result.mix.describe()}"
          + (f"; {result.n_superseded} superseded old examples left out" if result.n_superseded else ""))
    print(f"old test loss {result.base_metrics['old_loss']:.4f} -> {result.candidate_metrics['old_loss']:.4f} "
          f"(forgetting {result.forgetting:+.4f}); new test loss {result.base_metrics['new_loss']:.4f} -> "
          f"{result.candidate_metrics['new_loss']:.4f}")
    print(f"gate against {result.production_version}: {result.decision}")
    print(f"production model: {RunRegistry(args.out).production}  ({Path(args.out) / 'registry.json'})")
    return 0


# ----------------------------------------------------------------------------------------------------------------
# Privacy: nothing personal reaches a training set
# ----------------------------------------------------------------------------------------------------------------

TEXT_FIELDS = ("instruction", "input", "output")


def training_set_pii(examples: list[dict], known_values=(), fields=TEXT_FIELDS) -> list[dict]:
    """Every piece of personal data found in ``examples``: ``[{"index", "field", "kind", "value", "count"}, ...]``.

    One entry per example, field and kind: ``count`` is how many items of that kind the detector found there
    (``value`` says the same in words), or, for a known value, how often it occurs in the field.

    Two independent checks: :mod:`course_lib.data`'s PII detector (e-mail addresses, phone numbers, card-like
    numbers — the same patterns its cleaning redacts), and an exact search for ``known_values`` (e.g. every value
    planted in the raw export, from its manifest), which does not depend on the detector's patterns at all.
    An empty list is the proof that the set is clean.
    """
    from . import data

    known = [str(v) for v in known_values if str(v).strip()]
    found = []
    for index, example in enumerate(examples):
        for name in fields:
            text = example.get(name)
            if not isinstance(text, str) or not text:
                continue
            for kind, count in data.find_pii(text).items():  # a Counter: kind -> how many
                if count:
                    found.append({"index": index, "field": name, "kind": kind, "value": f"{count} item(s)",
                                  "count": count})
            for value in known:
                if value in text:
                    found.append({"index": index, "field": name, "kind": "planted value", "value": value,
                                  "count": text.count(value)})
    return found
