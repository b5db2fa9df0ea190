"""Tests of course_lib.continual: replay mixing, versioned runs, the promotion gate, the bias probe.

Pure-Python parts run on small hand-made inputs; expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from course_lib import continual
from course_lib.errors import ConfigError, DataError


def test_mix_replay_counts_and_determinism():
    new = [{"id": f"n{i}"} for i in range(10)]
    old = [{"id": f"o{i}"} for i in range(100)]
    mix = continual.mix_replay(new, old, 0.5, seed=1)
    assert (mix.n_new, mix.n_replayed, len(mix.examples)) == (10, 5, 15)  # round(0.5 * 10) = 5 old ones
    assert all(e in mix.examples for e in new)
    assert sum(e["id"].startswith("o") for e in mix.examples) == 5
    assert mix.examples == continual.mix_replay(new, old, 0.5, seed=1).examples
    assert continual.mix_replay(new, old, 0.0).n_replayed == 0
    assert continual.mix_replay(new, old[:3], 2.0).n_replayed == 3  # capped at the old pool
    with pytest.raises(ConfigError, match="replay fraction"):
        continual.mix_replay(new, old, -0.1)
    with pytest.raises(ConfigError, match="no new examples"):
        continual.mix_replay([], old, 0.5)


def test_forgetting_sign():
    assert continual.forgetting(before=1.0, after=1.5) == pytest.approx(0.5)  # loss went up: forgot
    assert continual.forgetting(before=0.8, after=0.6, higher_is_better=True) == pytest.approx(0.2)


def test_gate_keeps_production_when_candidate_forgets():
    gate = continual.PromotionGate()
    prod = {"old_loss": 1.00, "new_loss": 2.00}
    better = continual.PromotionGate().decide({"old_loss": 1.02, "new_loss": 1.50}, prod)
    assert better.promote  # old loss +0.02 within tolerance 0.05, new loss improved
    forgot = gate.decide({"old_loss": 1.20, "new_loss": 1.40}, prod)
    assert not forgot.promote and "old_loss" in str(forgot) and "FAIL" in str(forgot)
    no_gain = gate.decide({"old_loss": 0.90, "new_loss": 2.00}, prod)
    assert not no_gain.promote  # primary metric must strictly improve
    assert gate.decide({"old_loss": 9, "new_loss": 9}, None).promote  # first model
    acc_gate = continual.PromotionGate(rules=(continual.GateRule("acc", higher_is_better=True, tolerance=0.01),),
                                       primary="acc")
    assert acc_gate.decide({"acc": 0.8}, {"acc": 0.7}).promote
    assert not acc_gate.decide({"acc": 0.6}, {"acc": 0.7}).promote
    with pytest.raises(ConfigError, match="needs metric"):
        gate.decide({"old_loss": 1.0}, prod)


def test_registry_versions_promotion_and_table(tmp_path):
    reg = continual.RunRegistry(tmp_path / "runs")
    assert reg.production is None and reg.next_version() == "v001"
    reg.record(continual.RunRecord("v001", None, {"old_loss": 1.0}), promote=True)
    (tmp_path / "runs" / ".v002.tmp-99").mkdir(parents=True)  # an aborted run's staging folder
    assert reg.next_version() == "v003"  # never reuse a name an aborted run may have used
    reg.record(continual.RunRecord("v003", "v001", {"old_loss": 2.0}), promote=False)
    reg.record(continual.RunRecord("v004", "v001", {"old_loss": 0.5}), promote=True)
    assert reg.production == "v004"
    assert [r.status for r in reg.runs()] == ["retired", "rejected", "production"]
    assert list(reg.table()["version"]) == ["v001", "v003", "v004"]
    with pytest.raises(ConfigError, match="already recorded"):
        reg.record(continual.RunRecord("v004", None, {}), promote=False)
    with pytest.raises(ConfigError, match="not in"):
        reg.get("v009")
    reg.registry_file.write_text("{oops", encoding="utf-8")
    with pytest.raises(DataError, match="registry.json"):
        reg.runs()


def test_bias_probe_detects_a_name_dependent_model():
    labels = ["negative", "neutral", "positive"]

    def fair(texts):
        return np.tile([0.2, 0.6, 0.2], (len(texts), 1))

    def biased(texts):  # calls any sentence mentioning "Diego" negative
        return np.array([[0.7, 0.2, 0.1] if "Diego" in t else [0.1, 0.8, 0.1] for t in texts])

    groups = {"a": ("Emily", "James"), "b": ("Diego",)}
    ok = continual.bias_probe(fair, labels, groups=groups)
    assert ok.spread == 0.0 and ok.flip_rate == 0.0
    bad = continual.bias_probe(biased, labels, groups=groups)
    assert bad.flip_rate == 1.0  # every template flips from neutral to negative for Diego
    assert bad.spread == pytest.approx(0.6)  # score Diego = 0.1-0.7 = -0.6, others 0.1-0.1 = 0
    assert bad.by_filler.index[0] == "Diego"
    with pytest.raises(ConfigError, match="label 'positive'"):
        continual.bias_probe(fair, ["bad", "good", "meh"], groups=groups)
    with pytest.raises(ConfigError, match="shape"):
        continual.bias_probe(lambda t: np.ones((1, 3)), labels, groups=groups)


def test_registry_file_is_valid_json_after_each_write(tmp_path):
    reg = continual.RunRegistry(tmp_path)
    reg.record(continual.RunRecord("v001", None, {"x": 1.0}, data={"n_new": 3}), promote=True)
    state = json.loads(reg.registry_file.read_text(encoding="utf-8"))
    assert state["production"] == "v001" and state["runs"][0]["data"] == {"n_new": 3}
    assert not list(tmp_path.glob("*.tmp-*"))


def test_training_set_pii_finds_detector_hits_and_planted_values():
    clean = [{"instruction": "How do I export notes?", "output": "Use File > Export."}]
    assert continual.training_set_pii(clean) == []
    dirty = [clean[0], {"instruction": "Mail me at jane.doe@example.com", "output": "Sure, ticket ZX-42."}]
    found = continual.training_set_pii(dirty, known_values=["ZX-42"])
    assert {(f["index"], f["field"]) for f in found} == {(1, "instruction"), (1, "output")}
    assert any(f["kind"] == "planted value" and f["value"] == "ZX-42" for f in found)
    two = continual.training_set_pii([{"instruction": "a@example.com or b@example.org", "output": "ZX-42, ZX-42"}],
                                     known_values=["ZX-42"])
    assert {(f["kind"], f["count"]) for f in two} == {("email", 2), ("planted value", 2)}  # items, not entries


def test_drop_superseded_splits_on_shared_fact_ids():
    old = [{"id": 1, "fact_ids": ["f-price"]}, {"id": 2, "fact_ids": ["f-trash", "f-sync"]}, {"id": 3},
           {"id": 4, "fact_ids": ["f-ios"]}]
    new = [{"fact_ids": ["f-price"]}, {"fact_ids": ["f-sync", "f2-new"]}]
    kept, gone = continual.drop_superseded(old, new)
    assert [r["id"] for r in kept] == [3, 4]  # no fact ids = nothing says it is out of date
    assert [r["id"] for r in gone] == [1, 2]  # 2 shares f-sync with the new data
    assert continual.drop_superseded(old, [{"output": "no ids"}]) == (old, [])


def test_feedback_goes_through_the_same_validation_as_data():
    feedback = [
        {"question": "How much is Plus?", "answer": "$4.99", "rating": "bad", "correction": "Plus is $5.99 a month."},
        {"question": "How do I add a table?", "answer": "Type /table.", "rating": "good", "correction": ""},
        {"question": "Where is dark mode?", "answer": "View menu", "rating": "BAD", "correction": "  "},
        {"question": "Can you call me?", "answer": "No.", "rating": "bad",
         "correction": "Sure, we will call 555-0142 or mail ann.lee@example.com."},
        {"question": "How much is Plus?", "answer": "$4.99", "rating": "bad", "correction": "Plus is $5.99 a month."},
    ]
    result = continual.feedback_examples(feedback)
    assert (result.n_read, result.n_bad) == (5, 4)  # the "good" item never becomes training data
    assert [r["row"] for r in result.examples] == [1, 4]  # item 3: empty correction, item 5: duplicate of item 1
    assert result.examples[0]["output"] == "Plus is $5.99 a month."
    assert result.examples[0]["instruction"] == "How much is Plus?"
    assert "555-0142" not in result.examples[1]["output"] and "@" not in result.examples[1]["output"]
    assert result.report.pii_by_type["phone"] == 1 and result.report.pii_by_type["email"] == 1
    assert continual.training_set_pii(result.examples) == []
    assert {(row, reason) for row, reason, _ in result.removed} == {(3, "empty_output"), (5, "exact_duplicate")}
    assert "4 marked bad -> 2 training examples" in result.describe()
    none_bad = continual.feedback_examples([{"question": "q?", "rating": "good", "correction": "a"}])
    assert none_bad.examples == [] and none_bad.n_bad == 0
    with pytest.raises(DataError, match="no 'correction' field"):
        continual.feedback_examples([{"question": "q?", "rating": "bad", "fix": "a"}])


def test_rollback_restores_a_retired_version(tmp_path):
    reg = continual.RunRegistry(tmp_path)
    for version, promote in (("v001", True), ("v002", True), ("v003", False)):
        (tmp_path / version).mkdir()
        reg.record(continual.RunRecord(version, None, {}), promote=promote)
    restored = reg.rollback()  # newest retired version: v001
    assert restored.version == "v001" and reg.production == "v001"
    assert [r.status for r in reg.runs()] == ["production", "retired", "rejected"]
    assert "rolled back by hand (was v002)" in reg.get("v001").decision[-1]
    reg.rollback("v002", reason="v001 answers in the old format")
    assert reg.production == "v002" and reg.get("v001").status == "retired"
    with pytest.raises(ConfigError, match="not in"):
        reg.rollback("v009")
    (tmp_path / "v003").rmdir()
    with pytest.raises(ConfigError, match="is gone"):
        reg.rollback("v003")
    with pytest.raises(ConfigError, match="no retired version"):
        continual.RunRegistry(tmp_path / "empty").rollback()
    assert continual._resolve_base("production", reg) == tmp_path / "v002"
    with pytest.raises(ConfigError, match="no production model yet"):
        continual._resolve_base("production", continual.RunRegistry(tmp_path / "empty"))


def test_known_values_file_formats(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"pii_values": {"email": ["a@example.com"], "phone": ["555-0100"]}}))
    assert continual._read_known_values(manifest) == ("a@example.com", "555-0100")
    plain = tmp_path / "values.txt"
    plain.write_text("a@example.com\n\n 4111 \n")
    assert continual._read_known_values(plain) == ("a@example.com", "4111")
    with pytest.raises(DataError, match="no such file"):
        continual._read_known_values(tmp_path / "missing.txt")


def test_old_data_pools_every_recorded_file_and_drops_facts_later_files_change(tmp_path):
    """The default replay pool of a chain of retrainings: each file split as its own run split it; an example
    whose fact a later batch (or the new data) changes leaves both parts."""
    from course_lib import train

    def write(name, rows):
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(path)

    original = [{"instruction": f"o{i}", "output": "a", "fact_ids": [f"f{i % 10}"]} for i in range(40)]
    batch1 = [{"instruction": f"b{i}", "output": "b", "fact_ids": ["f1"]} for i in range(10)]
    new = [{"instruction": "n", "output": "c", "fact_ids": ["f2"]}]
    paths_ = [write("original.jsonl", original), write("batch1.jsonl", batch1)]
    base = tmp_path / "v002"
    base.mkdir()
    (base / continual.RUN_FILE).write_text(json.dumps({"train_data": paths_}))

    sources = continual._old_sources(None, base)
    assert sources == paths_  # every recorded file, oldest first
    pooled_train, pooled_test, n_gone, texts = continual._old_splits(sources, new, n_test=5, seed=3, drop=True)
    assert [t.rsplit("/", 1)[-1] for t in texts] == ["original.jsonl", "batch1.jsonl"]
    orig_train, orig_test = train.split_records(original, 5, 3)
    b1_train, b1_test = train.split_records(batch1, 2, 3)  # a 10-row file holds out at most a fifth
    # f1 (changed by batch1) and f2 (changed by the new data) leave the original; batch1's f1 answers stay.
    keep = [r for r in orig_train + orig_test if r["fact_ids"][0] not in ("f1", "f2")]
    assert pooled_train == [r for r in orig_train if r in keep] + b1_train
    assert pooled_test == [r for r in orig_test if r in keep] + b1_test
    assert n_gone == 8  # 40 rows, 4 per fact: f1 and f2
    assert not {r["instruction"] for r in pooled_test} & {r["instruction"] for r in pooled_train}
    no_drop = continual._old_splits(sources, new, n_test=5, seed=3, drop=False)
    assert (len(no_drop[0]) + len(no_drop[1]), no_drop[2]) == (50, 0)

    # Explicit old data: a path, a list of paths, or records in memory.
    assert continual._old_sources(paths_[0], base) == [paths_[0]]
    assert continual._old_sources(paths_, base) == paths_
    assert continual._old_sources(original, base) == [original]
    (base / continual.RUN_FILE).write_text(json.dumps({"train_data": [paths_[0], "<11 new records in memory>"]}))
    with pytest.raises(ConfigError, match="in memory.*--old PATH"):
        continual._old_sources(None, base)
    with pytest.raises(ConfigError, match="does not record its training data"):
        continual._old_sources(None, tmp_path)


def test_a_given_old_test_set_is_held_out_of_the_replay_pool(tmp_path):
    """RetrainConfig.old_test (notebook 07 reusing notebook 03's stratified split): that test set exactly, the rest
    of the old file as the replay pool, and superseded facts out of both."""
    old = [{"instruction": f"o{i}", "output": "a", "fact_ids": [f"f{i % 5}"]} for i in range(20)]
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    test = old[:6]
    new = [{"instruction": "n", "output": "c", "fact_ids": ["f0"]}]
    config = continual.RetrainConfig(base=tmp_path, new_data=new, out=tmp_path / "runs", old_test=test)
    pool, held_out, n_gone, texts = continual._split_old(config, [str(path)], new, n_test=3, seed=0)
    assert held_out == [r for r in test if r["fact_ids"] != ["f0"]]
    assert pool == [r for r in old[6:] if r["fact_ids"] != ["f0"]]
    assert n_gone == 4 and texts == [str(path.resolve())]
    # Without old_test, the file is split the way train.split_records holds out a test set.
    from course_lib import train

    default = continual._split_old(dataclasses.replace(config, old_test=None), [str(path)], new, n_test=3, seed=0)
    assert default[1] == [r for r in train.split_records(old, 3, 0)[1] if r["fact_ids"] != ["f0"]]



def test_old_test_examples_caps_what_is_measured_not_what_is_held_out(tmp_path, smoke_runtime):
    """RetrainConfig.old_test_examples (notebook 07 passes the profile's forgetting_examples): forgetting is measured
    on the first N of the given old test pairs, and none of the given pairs, measured or not, is replayed."""
    from course_lib.continual import pipeline

    old = [{"instruction": f"old question {i}", "output": "old answer"} for i in range(20)]
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    new = [{"instruction": f"new question {i}", "output": "new answer"} for i in range(12)]
    config = continual.RetrainConfig(base=tmp_path, new_data=new, out=tmp_path / "runs", old_data=str(path),
                                     old_test=old[:6], replay=2.0, old_test_examples=2)
    sets = pipeline._training_sets(config, tmp_path, smoke_runtime)
    assert sets.old_test == old[:2]
    replayed = [r for r in sets.mix.examples if r["instruction"].startswith("old")]
    assert replayed and not any(r in old[:6] for r in replayed)
    assert sets.mix.n_replayed == len(old) - 6 == len(replayed)  # the whole pool: 2 per new pair asks for more
    uncapped = pipeline._training_sets(dataclasses.replace(config, old_test_examples=None), tmp_path, smoke_runtime)
    assert uncapped.old_test == old[:6]

@pytest.mark.slow
def test_a_version_measured_on_the_same_test_sets_keeps_its_recorded_numbers(tmp_path):
    from course_lib.continual import pipeline

    old, new = [{"instruction": "q1", "output": "a1"}], [{"instruction": "q2", "output": "a2"}]
    same = pipeline._test_sets_id(old, new, 64, "system")
    assert same == pipeline._test_sets_id([dict(r) for r in old], [dict(r) for r in new], 64, "system")
    others = [pipeline._test_sets_id(old, new, 96, "system"), pipeline._test_sets_id(old, new, 64, None),
              pipeline._test_sets_id(old + new, [], 64, "system"), pipeline._test_sets_id(new, old, 64, "system")]
    assert same not in others and len(set(others)) == len(others)
    registry = continual.RunRegistry(tmp_path)
    registry.record(continual.RunRecord("v001", None, {"old_loss": 2.0, "new_loss": 3.0}, {"test_sets": same}),
                    promote=True)
    registry.record(continual.RunRecord("v002", "v001", {"old_loss": 2.1, "new_loss": 2.5, "forgetting": 0.1},
                                        {"test_sets": same}), promote=True)
    registry.record(continual.RunRecord("v003", "v002", {"old_loss": 1.0, "new_loss": 1.0}, {}), promote=False)
    assert pipeline._recorded_metrics(registry, tmp_path / "v002", same) == {"old_loss": 2.1, "new_loss": 2.5}
    assert pipeline._recorded_metrics(registry, tmp_path / "v002", others[0]) is None  # other sets: measure
    assert pipeline._recorded_metrics(registry, tmp_path / "v003", same) is None  # no fingerprint recorded
    assert pipeline._recorded_metrics(registry, tmp_path / "elsewhere", same) is None  # not a registry version


def test_retrain_cli_end_to_end_records_versions_and_gates(tmp_path, smoke_runtime, capsys):
    """`python -m course_lib retrain` on a 1-step base, 2 steps: registry, version files, gate, a second
    retraining that replays the whole recorded history, PII refusal."""
    from course_lib import cli, models, paths, train

    old_path = paths.data_path("support", "support_clean.jsonl")
    new_path = paths.data_path("support", "support_new_batch.jsonl")
    old_records = train.read_records(old_path)
    base_train, _ = train.split_records(old_records, smoke_runtime.profile.eval_examples, smoke_runtime.seed)
    model, tok = models.load_causal_lm("smollm2-135m-instruct", runtime=smoke_runtime, verbose=False)
    base_config = train.TrainConfig(method="lora", max_steps=1, warmup_ratio=0.0, live="off")  # lr > 0 at step 1
    train.train(base_train[:8], [], base_config, runtime=smoke_runtime, output_dir=tmp_path / "base", model=model,
                tokenizer=tok)
    out = tmp_path / "runs"
    args = ["retrain", "--base", str(tmp_path / "base"), "--new", str(new_path), "--old", str(old_path),
            "--replay", "0.5", "--out", str(out), "--profile", "smoke", "--max-steps", "2", "--quiet"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    registry = continual.RunRegistry(out)
    assert [r.version for r in registry.runs()] == ["v001", "v002"]
    for version in ("v001", "v002"):
        folder = out / version
        metrics = json.loads((folder / "metrics.json").read_text())
        stamp = json.loads((folder / "stamp.json").read_text())
        assert np.isfinite([metrics["old_loss"], metrics["new_loss"]]).all()
        assert stamp["seed"] == 0 and stamp["profile"]["name"] == "smoke" and "packages" in stamp
        assert (folder / "adapter" / "adapter_config.json").exists()
    v001, v002 = registry.get("v001"), registry.get("v002")
    metrics = json.loads((out / "v002" / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 2 and metrics["gated_against"] == "v001"  # 1 warm-up step at lr 0
    assert v002.data["n_replayed"] == round(0.5 * v002.data["n_new"]) and v002.data["n_superseded"] > 0
    assert v002.data["test_sets"] == v001.data["test_sets"]  # both measured on the same test sets
    # The recorded decision is the gate's verdict on the recorded numbers (default tolerance 0.05 nats).
    expected = continual.PromotionGate().decide(metrics, v001.metrics)
    assert metrics["promoted"] == expected.promote
    assert registry.production == ("v002" if expected.promote else "v001")
    assert v002.status == ("production" if expected.promote else "rejected")
    assert ("PROMOTE" if expected.promote else "KEEP") in printed and "forgetting" in printed
    assert not (out / "v002" / "checkpoints").exists() and not list(out.glob(".*tmp-*"))
    assert json.loads((out / "v002" / "lineage.json").read_text())["adapters"] == ["parents/00", "adapter"]

    # A second retraining from v002 without --old replays and tests on every file v002's lineage trained on.
    batch2 = tmp_path / "batch2.jsonl"
    batch2.write_text("".join(new_path.read_text().splitlines(keepends=True)[:30]))
    assert cli.main(["retrain", "--base", "v002", "--new", str(batch2), "--out", str(out), "--profile", "smoke",
                     "--max-steps", "1", "--quiet"]) == 0
    run = json.loads((out / "v003" / "run.json").read_text())
    history = [str(old_path.resolve()), str(new_path.resolve())]
    assert run["old_data"] == history and run["train_data"] == [*history, str(batch2.resolve())]
    n_test = smoke_runtime.profile.eval_examples
    _, pooled_test, _, _ = continual._old_splits(history, train.read_records(batch2), n_test, 0, drop=True)
    assert registry.get("v003").data["n_old_test"] == len(pooled_test) > v002.data["n_old_test"]
    capsys.readouterr()

    # New data holding a value planted in the raw export is refused before any training: no version is added.
    leaky = tmp_path / "leaky.jsonl"
    planted = json.loads(paths.data_path("support", "raw_export_manifest.json").read_text())["pii_values"]["email"][0]
    rows = [json.loads(line) for line in new_path.read_text().splitlines()[:20]]
    rows[3]["output"] += f" Ticket owner: {planted.split('@')[0]}"  # the local part alone: the detector misses it
    leaky.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    known = tmp_path / "known.txt"
    known.write_text(planted.split("@")[0] + "\n")
    assert cli.main([*args[:4], str(leaky), *args[5:], "--known-pii", str(known)]) == 2
    assert "personal data" in capsys.readouterr().err
    assert [r.version for r in registry.runs()] == ["v001", "v002", "v003"]
