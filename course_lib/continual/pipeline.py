"""The retraining pipeline: :func:`retrain`, one function per step, and ``python -m course_lib retrain``.

Taught in notebook 07. :func:`retrain`'s steps: the training sets (:func:`_training_sets`), the LoRA training
configuration (:func:`_train_config`), the base and production models measured on both test sets
(:func:`_measurer`, :func:`_production_metrics`), the candidate trained and gated in a staging folder, its files
written (:func:`_write_version_files`), the version recorded. The module is named ``pipeline``, not ``retrain``,
because ``continual.retrain`` is the function.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..files import staging_path
from ..paths import RunDir
from .config import RetrainConfig, RetrainResult
from .gate import GateRule, PromotionGate
from .measure import response_loss
from .old_data import _old_sources, _recorded_train_data, _records, _split_old
from .pii import _read_known_values, training_set_pii
from .registry import _VERSION, RunRecord, RunRegistry, load_run, run_adapters
from .replay import ReplayMix, forgetting, mix_replay


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
        shutil.copytree(adapter, RunDir(staging).parent(n))
        parents.append(RunDir.parent_name(n))
    return {"base_model": base_model, "adapters": [*parents, RunDir.ADAPTER]}


def _import_base(registry: RunRegistry, base_folder: Path, old_source_texts: list[str], metrics: dict, test_sets: str,
                 rt) -> Path:
    """Copy an outside base run into the empty registry as its first version, in production; return its folder.
    ``metrics`` were measured on the test sets :func:`_test_sets_id` calls ``test_sets``."""
    imported = registry.next_version()
    staging = staging_path(registry.folder(imported))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    base_model, adapters = run_adapters(base_folder)
    run = RunDir(staging)
    lineage = {"base_model": base_model, "adapters": []}
    for n, adapter in enumerate(adapters):
        name = RunDir.ADAPTER if n == len(adapters) - 1 else RunDir.parent_name(n)
        shutil.copytree(adapter, staging / name)
        lineage["adapters"].append(name)
    run.lineage.write_text(json.dumps(lineage, indent=2), encoding="utf-8")
    run.run_info.write_text(json.dumps({"train_data": old_source_texts, "imported_from":
                                                str(base_folder.resolve())}, indent=2), encoding="utf-8")
    rt.write_stamp(staging, extra={"metrics": metrics, "imported_from": str(base_folder.resolve())})
    run.metrics.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    os.replace(staging, registry.folder(imported))  # a new version: a plain rename never replaces an old one
    registry.record(RunRecord(imported, str(base_folder), metrics, {"source": "imported base", "test_sets": test_sets},
                              decision=["imported as the first production model"]), promote=True)
    return registry.folder(imported)


@dataclass
class _TrainingSets:
    """The data of one retraining (:func:`_training_sets`): the mix trained on, both test sets, their sources."""

    mix: ReplayMix
    old_test: list
    new_test: list
    n_superseded: int
    new_source: str
    old_source_texts: list


def _training_sets(config: RetrainConfig, base_folder: Path, rt) -> _TrainingSets:
    """Read and split the data (old test + new test held out), leave out superseded old examples, mix replay, and
    refuse a mixed training set that holds personal data (:func:`training_set_pii`)."""
    from .. import train as train_mod

    new_records, new_source = _records(config.new_data, "new", config.columns)
    old_sources = _old_sources(config.old_data, base_folder)
    n_test = config.test_examples or rt.profile.eval_examples or 50
    new_train, new_test = train_mod.split_records(new_records, n_test, rt.seed)
    old_train, old_test, n_superseded, old_source_texts = _split_old(config, old_sources, new_records, n_test,
                                                                      rt.seed)
    old_test = old_test[: config.old_test_examples]  # held out of the pool above in full; measured up to the cap
    if not old_test:
        raise ConfigError("every old test example is about a fact the new data changes — nothing is left to "
                          "measure forgetting on; pass more old data or RetrainConfig(drop_superseded=False)")
    mix = mix_replay(new_train, old_train, config.replay, seed=rt.seed)
    leaks = training_set_pii(mix.examples, known_values=config.known_pii)
    if leaks:
        first = leaks[0]
        raise DataError(new_source, f"{len(leaks)} pieces of personal data in the training set (first: {first['kind']} "
                        f"in example {first['index']})", "clean the file with course_lib.data (PII redaction) first")
    return _TrainingSets(mix, old_test, new_test, n_superseded, new_source, old_source_texts)


def _train_config(config: RetrainConfig, mix: ReplayMix, rt):
    """The LoRA training configuration of the retraining and its maximum sequence length: ``(train_cfg, max_len)``."""
    from .. import train as train_mod

    train_cfg = config.train_config or train_mod.TrainConfig(method="lora", live="off",
                                                             max_steps=rt.profile.retrain_steps)
    if getattr(train_cfg, "method", "lora") != "lora":
        raise ConfigError("retraining adds a LoRA adapter on top of the base run — use TrainConfig(method='lora')")
    if train_cfg.train_examples is None:  # the mix is the training set: no subsample down to the profile's size
        train_cfg = dataclasses.replace(train_cfg, train_examples=len(mix.examples))
    max_len = train_cfg.max_seq_len or rt.profile.max_seq_len
    return train_cfg, max_len


def _test_sets_id(old_test: list[dict], new_test: list[dict], max_len: int, system_prompt: str | None) -> str:
    """A short fingerprint of what a measurement saw: both test sets' records, the length cut and the system prompt.

    Two measurements with the same fingerprint score the same records the same way, so a version's recorded
    ``old_loss``/``new_loss`` stand for a new measurement of it (:func:`_recorded_metrics`).
    """
    seen = {"old": old_test, "new": new_test, "max_len": max_len, "system": system_prompt}
    return hashlib.sha256(json.dumps(seen, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def _recorded_metrics(registry: RunRegistry, folder: Path, test_sets: str) -> dict | None:
    """``{"old_loss", "new_loss"}`` the registry recorded for the version in ``folder`` on the same test sets, else
    ``None`` (an outside folder, another data set, or a version recorded before fingerprints were kept).

    A second retraining from the same base (notebook 07: without replay, then with it) then does not measure the
    base and the production model again: the same weights on the same records give the same numbers.
    """
    for run in registry.runs():
        if registry.folder(run.version).resolve() == folder.resolve() and run.data.get("test_sets") == test_sets:
            return {"old_loss": run.metrics["old_loss"], "new_loss": run.metrics["new_loss"]}
    return None


def _measurer(old_test: list[dict], new_test: list[dict], max_len: int, train_cfg):
    """``measure(model, tokenizer) -> {"old_loss", "new_loss"}``: every model is measured on both test sets alike."""

    def measure(model, tokenizer) -> dict:
        return {"old_loss": response_loss(model, tokenizer, old_test, max_len, system_prompt=train_cfg.system_prompt),
                "new_loss": response_loss(model, tokenizer, new_test, max_len, system_prompt=train_cfg.system_prompt)}

    return measure


def _production_metrics(registry: RunRegistry, production: str, base_folder: Path, base_metrics: dict, measure,
                        tokenizer, test_sets: str, rt) -> dict:
    """The metrics of the version in production: the base's own when the base is production, else those recorded
    for it on the same test sets, else measured."""
    folder = registry.folder(production)
    if folder.resolve() == base_folder.resolve():
        return base_metrics
    recorded = _recorded_metrics(registry, folder, test_sets)
    if recorded is not None:
        return recorded
    production_model, _ = load_run(folder, runtime=rt)
    return measure(production_model, tokenizer)


def _write_version_files(staging: Path, lineage: dict, base_folder: Path, sets: _TrainingSets, base_metrics: dict,
                         candidate_metrics: dict, production: str, result, decision, test_sets: str,
                         rt) -> tuple[dict, dict]:
    """Write the candidate's ``lineage.json``, ``run.json``, ``metrics.json`` and ``stamp.json`` into ``staging``;
    return ``(metrics, data)`` for its registry record."""
    mix, n_superseded, old_test, new_test = sets.mix, sets.n_superseded, sets.old_test, sets.new_test
    new_source, old_source_texts = sets.new_source, sets.old_source_texts
    data = {"n_new": mix.n_new, "n_replayed": mix.n_replayed, "replay": mix.fraction,
            "n_superseded": n_superseded, "n_old_test": len(old_test), "n_new_test": len(new_test),
            "test_sets": test_sets}
    history = _recorded_train_data(base_folder)  # base_folder may now be the imported copy
    run_info = {"base": str(base_folder), "train_data": [*(history or old_source_texts), new_source],
                "new_data": new_source, "old_data": old_source_texts, **data}
    run = RunDir(staging)
    run.lineage.write_text(json.dumps(lineage, indent=2), encoding="utf-8")
    run.run_info.write_text(json.dumps(run_info, indent=2), encoding="utf-8")
    metrics = {**candidate_metrics, "forgetting": forgetting(base_metrics["old_loss"], candidate_metrics["old_loss"]),
               "base_old_loss": base_metrics["old_loss"], "base_new_loss": base_metrics["new_loss"],
               "gated_against": production}
    run.metrics.write_text(json.dumps({**metrics, "train": result.summary(), "gate": decision.reasons,
                                       "promoted": decision.promote}, indent=2, default=str), encoding="utf-8")
    rt.write_stamp(staging, extra={"metrics": metrics, "train": result.summary(), "data": run_info,
                                   "gate": {"promote": decision.promote, "reasons": decision.reasons}})
    return metrics, data


def retrain(config: RetrainConfig, runtime=None) -> RetrainResult:
    """Retrain the base run on new data (plus replay), evaluate old vs new, gate, and record a new version.

    Steps: read and split the data (old test + new test held out) -> leave out superseded old examples -> mix
    replay -> privacy check of the mixed training set (:func:`training_set_pii`) -> measure the base on both test
    sets (a version the registry measured on the same sets keeps its recorded numbers, :func:`_recorded_metrics`)
    -> train a LoRA adapter on top of the merged base -> measure the candidate -> gate against the production
    model -> write ``vNNN/`` (adapter, parents, metrics.json, run.json, stamp.json) and update ``registry.json``.
    The version folder is assembled under a temporary name and renamed at the end: a crash leaves no half-written
    version. The first retraining into an empty ``out`` imports the base as ``v001`` (in production).
    """
    from .. import runtime as runtime_mod
    from .. import train as train_mod

    rt = runtime or runtime_mod.setup("auto")
    registry = RunRegistry(config.out)
    base_folder = _resolve_base(config.base, registry)
    run_adapters(base_folder)  # fail early on a base that is not a LoRA run
    sets = _training_sets(config, base_folder, rt)
    mix = sets.mix
    train_cfg, max_len = _train_config(config, mix, rt)
    measure = _measurer(sets.old_test, sets.new_test, max_len, train_cfg)
    test_sets = _test_sets_id(sets.old_test, sets.new_test, max_len, train_cfg.system_prompt)

    model, tokenizer = load_run(base_folder, runtime=rt)
    base_metrics = _recorded_metrics(registry, base_folder, test_sets) or measure(model, tokenizer)
    if registry.production is None:
        base_folder = _import_base(registry, base_folder, sets.old_source_texts, base_metrics, test_sets, rt)
    production = registry.production
    production_metrics = _production_metrics(registry, production, base_folder, base_metrics, measure, tokenizer,
                                             test_sets, rt)

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
        metrics, data = _write_version_files(staging, lineage, base_folder, sets, base_metrics, candidate_metrics,
                                             production, result, decision, test_sets, rt)
        if not config.keep_checkpoints:
            shutil.rmtree(RunDir(staging).checkpoints, ignore_errors=True)
        os.replace(staging, registry.folder(version))  # a new version: never files.replace_folder over an old one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record = registry.record(RunRecord(version, base_folder.name if base_folder.parent == registry.root
                                       else str(base_folder), metrics, data, decision=decision.reasons),
                             promote=decision.promote)
    summary = result.summary()
    summary["final_dir"] = str(RunDir(registry.folder(version)).adapter)
    return RetrainResult(record=record, decision=decision, folder=registry.folder(version), base_metrics=base_metrics,
                         candidate_metrics=candidate_metrics, production_metrics=production_metrics,
                         production_version=production, mix=mix, n_superseded=sets.n_superseded,
                         train_summary=summary, model=result.model, tokenizer=tokenizer)


def run_retrain(args) -> int:
    """Handler of ``python -m course_lib retrain`` (the same :func:`retrain` the notebook calls)."""
    from .. import data
    from .. import runtime as runtime_mod
    from ..train import TrainConfig

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
    print(f"production model: {RunRegistry(args.out).production}  ({RunRegistry(args.out).registry_file})")
    return 0
