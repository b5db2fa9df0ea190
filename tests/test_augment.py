"""course_lib.augment: phrasings kept per fact, and the filters on the model's rewrites (generation stubbed)."""

import numpy as np
import pytest

from course_lib import augment, generation, retrieval
from course_lib.errors import ConfigError

RECORDS = [{"id": f"r{i}", "instruction": f"Question {i} about fact {i % 3}?", "output": f"Answer {i % 3}.",
            "fact_ids": [f"f{i % 3}"]} for i in range(12)] + [{"id": "greeting", "instruction": "Hi", "output": "Hi!"}]


def test_phrasings_per_fact_keeps_k_of_each_fact_and_smaller_k_is_a_subset():
    one, three = augment.phrasings_per_fact(RECORDS, 1), augment.phrasings_per_fact(RECORDS, 3)
    assert sorted(r["fact_ids"][0] for r in one) == ["f0", "f1", "f2"]
    assert len(three) == 9 and {r["id"] for r in one} <= {r["id"] for r in three}
    assert [r["id"] for r in three] == [r["id"] for r in RECORDS if r in three]  # original order
    assert len(augment.phrasings_per_fact(RECORDS, 99)) == 12  # records without fact_ids are left out
    assert augment.phrasings_per_fact(RECORDS, 1, seed=0) == one
    with pytest.raises(ConfigError, match="at least one"):
        augment.phrasings_per_fact(RECORDS, 0)


def test_paraphrase_messages_show_the_worked_examples_first():
    messages = augment.paraphrase_messages("Can I export to PDF?")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"].endswith("Can I export to PDF?")


def test_rewrites_are_filtered_and_carry_the_answer(monkeypatch):
    question = RECORDS[0]["instruction"]
    outputs = iter([["Rewritten question: How does fact 0 work?\nThe answer is yes."],  # kept, label cut
                    [question],                                                      # a copy
                    ["Sure, here you go."],                                          # not a question
                    ["What is the weather on Mars?"]])                               # drifted meaning
    monkeypatch.setattr(generation, "generate_answers", lambda *a, **k: next(outputs))
    # Similarity is read from the embeddings: the question and the first rewrite agree, the last one does not.
    vectors = {question: [1.0, 0.0], "How does fact 0 work?": [0.8, 0.6], "What is the weather on Mars?": [0.0, 1.0]}
    monkeypatch.setattr(retrieval, "embed_texts",
                        lambda encoder, texts: np.array([vectors.get(t, [1.0, 0.0]) for t in texts]))
    new, report = augment.paraphrase_records(None, None, RECORDS[:1], per_record=4, encoder=None)
    assert [r["instruction"] for r in new] == ["How does fact 0 work?"]
    assert new[0]["output"] == RECORDS[0]["output"] and new[0]["fact_ids"] == ["f0"]
    assert new[0]["id"] == "r0-p0" and new[0]["synthetic"] is True
    assert (report.asked, report.kept) == (4, 1)
    assert report.rejected == {"a copy": 1, "not a question": 1, "another meaning": 1}
    assert [d["verdict"] for d in report.decisions] == ["kept", "a copy", "not a question", "another meaning"]
    assert "1 of 4 rewrites kept" in str(report)
