"""Tests of course_lib.continual.transfer (notebook 07, transfer between domains) and its sister-domain data.

Pure parts on hand-made curves (expected values worked out in the comments); the shipped data/tasks/ files against
the properties data/README.md states; one 2-step run per start on the smoke shapes.
"""

from __future__ import annotations

import difflib
import json

import numpy as np
import pytest

from course_lib import continual, paths
from course_lib.errors import ConfigError


def _curve(start, scores):
    return continual.TransferCurve(start=start, scores=scores)


def test_score_steps_always_include_the_start_and_the_end():
    assert continual.score_steps(12, 4) == [0, 4, 8, 12]
    assert continual.score_steps(10, 4) == [0, 4, 8, 10]  # the last step is scored even off the grid
    assert continual.score_steps(2, 5) == [0, 2]
    with pytest.raises(ConfigError, match="transfer_steps"):
        continual.score_steps(0, 1)


def test_steps_to_target_and_summary():
    base = _curve("base model", {0: [0, 0, 0, 0], 4: [0, 1, 0, 0], 8: [1, 1, 0, 0]})  # means 0, .25, .5
    adapter = _curve("support adapter", {0: [1, 0, 0, 0], 4: [1, 1, 0, 0], 8: [1, 1, 1, 0]})  # .25, .5, .75
    assert base.steps_to(0.5) == 8 and adapter.steps_to(0.5) == 4
    assert adapter.steps_to(0.25) == 0 and base.steps_to(0.9) is None
    points = adapter.points()
    assert [p["step"] for p in points] == [0, 4, 8] and [p["score"] for p in points] == [0.25, 0.5, 0.75]
    assert all(p["low"] <= p["score"] <= p["high"] and p["n"] == 4 for p in points)
    table = continual.curve_table([base, adapter])
    assert list(table["start"].unique()) == ["base model", "support adapter"] and len(table) == 6
    summary = continual.transfer_summary([base, adapter], target=0.5)
    assert summary.loc["base model", "steps to 0.50"] == 8 and summary.loc["support adapter", "steps to 0.50"] == 4
    assert summary.loc["support adapter", "score at step 8"] == 0.75


def test_kept_share():
    # base 2.0, adapter 1.0 (a gain of 1.0); after the second domain 1.25: 0.75 of the gain is kept
    assert continual.kept_share(2.0, 1.0, 1.25) == pytest.approx(0.75)
    assert continual.kept_share(2.0, 1.0, 2.5) == pytest.approx(-0.5)  # worse than the base model
    with pytest.raises(ConfigError, match="no gain"):
        continual.kept_share(1.0, 1.2, 1.1)


def test_score_by_groups_questions():
    questions = [{"shared": True}, {"shared": True}, {"shared": False}, {"shared": False}]
    curve = _curve("support adapter", {0: [1, 1, 0, 0], 4: [1, 0, 1, 1]})
    table = continual.score_by([curve], questions, "shared")
    assert table.loc[("support adapter", 0), "shared=True"] == 1.0
    assert table.loc[("support adapter", 4), "shared=False"] == 1.0
    with pytest.raises(ConfigError, match="questions"):
        continual.score_by([curve], questions[:2], "shared")


def test_task_needs_one_keyword_list_per_question():
    with pytest.raises(ConfigError, match="one keyword list per"):
        continual.TransferTask(questions=("a", "b"), keywords=(["x"],))


# --- the sister domain's data (data/tasks/) ---------------------------------------------------------------------

def _jsonl(name):
    return [json.loads(line) for line in paths.data_path("tasks", name).read_text(encoding="utf-8").splitlines()]


def test_sister_domain_files_match_the_readme():
    facts, pairs, questions = _jsonl("facts.jsonl"), _jsonl("support_pairs.jsonl"), _jsonl("questions.jsonl")
    support = [json.loads(line) for line in paths.data_path("support", "support_clean.jsonl").read_text().splitlines()]
    assert (len(facts), len(pairs), len(questions)) == (18, 216, 36)
    assert list(pairs[0]) == list(support[0])  # the same schema as the support pairs
    by_fact = {f["fact_id"]: f for f in facts}
    for pair in pairs:  # every answer states its fact's value
        assert all(k in pair["output"] for k in pair["keywords"]), pair["id"]
        assert pair["category"] == by_fact[pair["fact_ids"][0]]["category"]
    trained = {p["instruction"] for p in pairs}
    for q in questions:  # held out: never a training phrasing, not even inside a styled question
        assert not any(q["question"] in text for text in trained), q["qid"]
    assert [q["fact_id"] for q in questions[:18]] == list(by_fact)  # a prefix covers every fact
    assert not any(q["shared"] for q in questions[18:30])  # then Tasks' own facts: the cpu prefix of 24 holds 6 shared
    # six company-wide facts: the Notes fact's very value
    notes = {json.loads(line)["fact_id"]: json.loads(line)
             for line in paths.data_path("support", "facts.jsonl").read_text().splitlines()}
    shared = [f for f in facts if f["shared_with"]]
    assert len(shared) == 6 and all(notes[f["shared_with"]]["value"] == f["value"] for f in shared)
    assert sum(q["shared"] for q in questions) == 12


def test_sister_pairs_are_no_near_duplicates_within_a_fact():
    pairs = _jsonl("support_pairs.jsonl")
    texts = {}
    for p in pairs:
        texts.setdefault(p["fact_ids"][0], []).append(f"{p['instruction']} {p['input']} {p['output']}")
    for fact, items in texts.items():
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                assert difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() <= 0.8, fact


# --- one short run per start, on the smoke shapes ---------------------------------------------------------------

def test_transfer_curve_scores_each_step_and_measures_the_old_domain(tmp_path, smoke_runtime):
    from course_lib import models, train

    pairs, questions = _jsonl("support_pairs.jsonl")[:8], _jsonl("questions.jsonl")[:2]
    old_test = [json.loads(line) for line in
                paths.data_path("support", "support_clean.jsonl").read_text().splitlines()[:2]]
    task = continual.TransferTask(questions=tuple(q["question"] for q in questions),
                                  keywords=tuple(tuple(q["keywords"]) for q in questions), max_new_tokens=4)
    config = train.TrainConfig(method="lora", max_steps=2, warmup_ratio=0.0, live="off", save_steps=10**6,
                               save_final=False, learning_rate=1e-3)
    model, tokenizer = models.load_causal_lm("smollm2-135m-instruct", runtime=smoke_runtime, verbose=False)
    curve = continual.transfer_curve("base model", model, tokenizer, pairs, task, config, every=1,
                                     runtime=smoke_runtime, output_dir=tmp_path / "run", keep_records=old_test)
    assert sorted(curve.scores) == [0, 1, 2]
    assert all(len(s) == 2 and all(0.0 <= v <= 1.0 for v in s) for s in curve.scores.values())
    assert np.isfinite([curve.old_loss_before, curve.old_loss_after]).all()
    assert curve.old_loss_after != curve.old_loss_before  # two steps at 1e-3 moved the weights
    assert curve.train_seconds > 0 and curve.score_seconds > 0 and not curve.model.training
    with pytest.raises(ConfigError, match="max_steps"):
        continual.transfer_curve("x", model, tokenizer, pairs, task, train.TrainConfig(), every=1,
                                 runtime=smoke_runtime, output_dir=tmp_path / "bad")
