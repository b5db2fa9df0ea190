"""Tests of the library code behind notebook 06 (fine-tuning vs RAG) outside retrieval.py: scoring fact answers
(course_lib.evaluation.value_match / fact_answer_table / fact_summary) and reusing a saved run
(course_lib.train.find_saved_run / reuse_or_train). Hand-made answers and folders; no model is loaded or trained.
"""

from __future__ import annotations

import json
import math

import pytest

from course_lib import evaluation, retrieval, train
from course_lib.errors import ConfigError


def test_value_match_reads_numbers_not_substrings():
    assert evaluation.value_match("The minimum is 3.", ["3 seats"]) == 1.0  # the unit is forgiven
    assert evaluation.keyword_match("The minimum is 3.", ["3 seats"]) == 0.0
    assert evaluation.value_match("It needs 13 seats.", ["3 seats"]) == 0.0  # a substring test would say 1
    assert evaluation.value_match("$5.9 a month", ["$5.99 per month"]) == 0.0
    assert evaluation.value_match("from 5 to 10 days", ["5 to 10 business days"]) == 1.0
    assert evaluation.value_match("only 10 days", ["5 to 10 business days"]) == 0.0  # every number is needed
    assert evaluation.value_match("press ctrl+shift+c", ["Ctrl+Shift+C"]) == 1.0  # no number: the text itself
    assert evaluation.value_match("Okta works", ["Okta", "Azure AD"]) == 0.5
    assert math.isnan(evaluation.value_match("anything", []))


QUESTIONS = [
    {"qid": "q1", "kind": "trained", "question": "How much is Pro?", "keywords": ["$9.99 per month"]},
    {"qid": "q2", "kind": "kb_only", "question": "Minimum Team seats?", "keywords": ["3 seats"]},
    {"qid": "q3", "kind": "changed", "question": "Refund window?", "keywords": ["30 days"],
     "stale_keywords": ["14 days"]},
    {"qid": "q4", "kind": "changed", "question": "Plus price?", "keywords": ["$5.99 per month"],
     "stale_keywords": ["$4.99 per month"]},
]


def _hit(doc_id, text):
    return retrieval.Hit(chunk=retrieval.Chunk(f"{doc_id}#0", doc_id, "T", text), score=1.0, rank=1)


def test_fact_answer_table_scores_correct_stale_and_grounding():
    answers = retrieval.SystemAnswers(
        name="RAG", seconds=2.0, batch_size=4,
        answers=["Pro is $9.99 per month [kb-03].", "At least 3 [kb-04].", "Within 14 days [kb-06].",
                 "I don't know."],
        hits=[[_hit("kb-03", "Pro costs $9.99 per month.")], [_hit("kb-04", "A Team needs at least 3 seats.")],
              [_hit("kb-06", "Refunds within 14 days.")], [_hit("kb-02", "Plus costs $4.99 per month.")]])
    known = ["Pro costs $9.99 per month. Team: 3 seats. Refunds 14 days, now 30 days. Plus $4.99, now $5.99."]
    table = evaluation.fact_answer_table(QUESTIONS, answers, known=known)
    assert list(table["qid"]) == ["q1", "q2", "q3", "q4"]
    assert list(table["correct"]) == [1.0, 1.0, 0.0, 0.0]
    assert list(table["keyword"]) == [1.0, 0.0, 0.0, 0.0]  # strict keywords miss the unit-less "3"
    assert math.isnan(table.loc[0, "stale"]) and list(table["stale"][2:]) == [1.0, 0.0]  # q3 gave the old value
    assert list(table["unsupported"]) == [0.0, 0.0, 0.0, 0.0] and list(table["abstained"]) == [0, 0, 0, 1]
    summary = evaluation.fact_summary({"RAG": table}, kinds=("trained", "kb_only", "changed"))
    row = summary.loc["RAG"]
    assert row["acc trained"] == 1.0 and row["acc kb_only"] == 1.0 and row["acc changed"] == 0.0
    assert row["stale"] == 0.5 and row["strict keywords"] == 0.25 and row["abstained"] == 0.25 and row["n"] == 4


def test_fact_answer_table_closed_book_is_unsupported_and_flags_invented_numbers():
    answers = ["It costs $9.99 per month.", "You need 7 seats.", "30 days.", "$5.99."]
    table = evaluation.fact_answer_table(QUESTIONS, answers, known=["$9.99 3 seats 14 30 days 4.99 5.99"])
    assert list(table["unsupported"]) == [1.0, 1.0, 1.0, 1.0]  # nothing shown backs a closed-book answer
    assert list(table["invented"]) == [0.0, 1.0, 0.0, 0.0]  # 7 appears nowhere in the knowledge base
    assert math.isnan(evaluation.fact_answer_table(QUESTIONS, answers)["invented"].iloc[0])  # no known texts
    with pytest.raises(ConfigError, match="questions has 4"):
        evaluation.fact_answer_table(QUESTIONS, answers[:3])
    with pytest.raises(ConfigError, match="keywords"):
        evaluation.fact_answer_table([{"question": "q"}], ["a"])
    with pytest.raises(ConfigError, match="no answer tables"):
        evaluation.fact_summary({})


def _saved_run(folder, method="lora", profile="smoke", final=True):
    (folder / ("adapter" if method == "lora" else "model")).mkdir(parents=True, exist_ok=True) if final else None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train_config.json").write_text(json.dumps({
        "config": {"method": method, "system_prompt": "Be brief.", "batch_size": 4, "grad_accum": 2},
        "seed": 0, "profile": profile}))
    (folder / "metrics.json").write_text(json.dumps({"seconds": 12.0, "steps": 4}))
    return folder


def test_find_saved_run_checks_method_and_profile(tmp_path):
    run = _saved_run(tmp_path / "lora")
    assert train.find_saved_run(run, "lora", "smoke") == run / "adapter"
    assert train.find_saved_run(run, "lora") == run / "adapter"
    assert train.find_saved_run(run, "lora", "cpu") is None  # a smoke adapter must not stand in for a cpu one
    assert train.find_saved_run(run, "full", "smoke") is None
    assert train.find_saved_run(tmp_path / "missing", "lora") is None
    assert train.find_saved_run(_saved_run(tmp_path / "unfinished", final=False), "lora") is None
    (tmp_path / "broken" / "adapter").mkdir(parents=True)
    (tmp_path / "broken" / "train_config.json").write_text("{not json")
    assert train.find_saved_run(tmp_path / "broken", "lora") is None


def test_reuse_or_train_reuses_a_matching_run_else_trains(tmp_path, monkeypatch, smoke_runtime):
    from course_lib.train import reuse  # reuse_or_train looks load_trained and train up in its own module

    run = _saved_run(tmp_path / "lora")
    monkeypatch.setattr(reuse, "load_trained", lambda folder, runtime=None: (f"model from {folder.name}", "tok"))
    reused = train.reuse_or_train(run, [], config=train.TrainConfig(method="lora"), runtime=smoke_runtime)
    assert reused.source == "reused" and reused.model == "model from adapter" and reused.run_dir == run
    assert reused.system_prompt == "Be brief." and reused.examples_per_step == 8
    assert reused.seconds_per_step == pytest.approx(3.0)

    calls = []

    def fake_train(records, eval_records, config, runtime, output_dir, title):
        calls.append((records, eval_records, output_dir))
        return train.TrainResult(
            method="lora", config={"system_prompt": config.system_prompt, "batch_size": 2, "grad_accum": 1},
            metrics={"steps": 5}, log_history=[], trainable_params=1, total_params=2, peak_memory_bytes=0,
            start_memory_bytes=0, memory_kind="rss", seconds=10.0, useful_tokens_per_s=0.0,
            computed_tokens_per_s=0.0, useful_tokens=0, output_dir=tmp_path / "new", final_dir=None,
            stamp_path=None, resumed_from=None, tokenize_report="", model="trained model", tokenizer="tok")

    monkeypatch.setattr(reuse, "train", fake_train)
    config = train.TrainConfig(method="lora", system_prompt="Hi.")
    fresh = train.reuse_or_train(run, ["r"], [], config=config, runtime=smoke_runtime, output_dir=tmp_path / "new",
                                 reuse=False)
    assert fresh.source == "trained" and fresh.model == "trained model" and fresh.system_prompt == "Hi."
    assert fresh.seconds_per_step == pytest.approx(2.0) and calls == [(["r"], [], tmp_path / "new")]
    cpu_run = _saved_run(tmp_path / "cpu_lora", profile="cpu")  # trained in another profile: not reused
    for folder in (cpu_run, tmp_path / "nothing-here"):
        other = train.reuse_or_train(folder, ["r"], [], config=config, runtime=smoke_runtime,
                                     output_dir=tmp_path / "new")
        assert other.source == "trained"
    assert len(calls) == 3


def test_fact_question_set_caps_each_kind_and_adds_the_stale_value():
    questions = [{"qid": i, "kind": kind, "fact_id": f"f{i}"}
                 for i, kind in enumerate(["changed", "trained", "trained", "kb_only", "trained", "changed"])]
    notes = [{"changes": [{"fact_id": "f0", "old_value": "14 days"}, {"fact_id": "f5", "old_value": "$4.99"},
                          {"fact_id": "f9", "old_value": ""}]}]
    chosen = evaluation.fact_question_set(questions, notes, ("trained", "kb_only", "changed"), per_kind=1)
    # one per kind, in the order of kinds, the first of each kind
    assert [q["qid"] for q in chosen] == [1, 3, 0]
    assert [q["stale_keywords"] for q in chosen] == [[], [], ["14 days"]]
    every_trained = evaluation.fact_question_set(questions, notes, ("trained", "changed"), 1, uncapped=("trained",))
    assert [q["qid"] for q in every_trained] == [1, 2, 4, 0]
    assert [q["qid"] for q in evaluation.fact_question_set(questions, notes, ("changed",))] == [0, 5]
    assert "stale_keywords" not in questions[0]  # copies: the loaded questions are left as they are
