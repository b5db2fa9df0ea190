"""Tests of course_lib.continual: replay mixing, versioned runs, the promotion gate, the bias probe.

Pure-Python parts run on small hand-made inputs; expected values are worked out by hand in the comments.
"""

from __future__ import annotations

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
