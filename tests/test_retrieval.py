"""Tests of course_lib.retrieval: chunking, search, persistence, updates, RAG prompts, recall@k / MRR.

Small hand-made documents; the search tests use the real shipped MiniLM encoder (module-scoped, ~10 s to load) and
hand-made unit vectors where the expected ranking must be exact.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_lib import retrieval
from course_lib.errors import ConfigError, DataError

DOCS = [
    {"doc_id": "kb-001", "title": "Password reset",
     "text": "To reset your password open Settings, choose Security and click Reset password. A link is emailed."},
    {"doc_id": "kb-002", "title": "Refund policy",
     "text": "Refunds are available within 30 days of purchase. Contact billing with your order number."},
    {"doc_id": "kb-003", "title": "Export data",
     "text": "You can export all projects as a CSV file from the Projects page using the Export button."},
]


@pytest.fixture(scope="module")
def encoder():
    from course_lib import models

    return models.load_sentence_encoder()


@pytest.fixture()
def docs():
    return retrieval.documents_from_records(DOCS)


def test_documents_validation_names_record_and_field():
    with pytest.raises(DataError) as err:
        retrieval.documents_from_records([DOCS[0], {"doc_id": "x", "title": "t", "text": "  "}], source="kb.jsonl")
    assert "kb.jsonl:2" in str(err.value) and "'text'" in str(err.value)
    with pytest.raises(DataError, match="repeats"):
        retrieval.documents_from_records([DOCS[0], DOCS[0]], source="kb.jsonl")


def test_read_documents_reports_bad_json_line(tmp_path):
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(DOCS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        retrieval.read_documents(path)
    assert f"{path}:2" in str(err.value)
    with pytest.raises(DataError, match="file not found"):
        retrieval.read_documents(tmp_path / "missing.jsonl")


def test_chunking_windows_overlap_and_cover_every_word():
    text = " ".join(f"w{i}" for i in range(141))
    doc = retrieval.Document("d", "T", text)
    chunks = retrieval.chunk_documents([doc], retrieval.ChunkConfig(max_words=80, overlap=20))
    assert [c.chunk_id for c in chunks] == ["d#0", "d#1", "d#2"]
    words = [c.text.split() for c in chunks]
    assert words[0][:1] == ["w0"] and words[-1][-1] == "w140"
    assert words[0][-20:] == words[1][:20]  # consecutive windows share `overlap` words
    covered = {w for ws in words for w in ws}
    assert covered == set(text.split())
    short = retrieval.chunk_documents([retrieval.Document("s", "T", "one two")])
    assert [c.text for c in short] == ["one two"]
    with pytest.raises(ConfigError):
        retrieval.ChunkConfig(max_words=10, overlap=10)


def test_search_vectors_ranks_documents_by_best_chunk():
    chunks = [retrieval.Chunk("a#0", "a", "A", "x"), retrieval.Chunk("a#1", "a", "A", "y"),
              retrieval.Chunk("b#0", "b", "B", "z")]
    emb = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    index = retrieval.EmbeddingIndex(chunks=chunks, embeddings=emb)
    hits = index.search_vectors(np.array([[0.0, 1.0]]), k=2)[0]
    # doc a's best chunk (0.8) ranks below b (1.0); a appears once although two of its chunks match
    assert [(h.doc_id, h.chunk.chunk_id, h.rank) for h in hits] == [("b", "b#0", 1), ("a", "a#1", 2)]
    assert hits[0].score == pytest.approx(1.0) and hits[1].score == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="dimensions"):
        index.search_vectors(np.ones((1, 3)), k=1)


def test_real_encoder_finds_the_right_document(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    assert index.embeddings.shape == (3, 384)
    assert np.allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, atol=1e-4)
    hits = index.search(encoder, ["How do I get my money back?", "I forgot my password"], k=2)
    assert hits[0][0].doc_id == "kb-002"
    assert hits[1][0].doc_id == "kb-001"


def test_retrieval_metrics_recall_and_mrr(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    questions = [
        {"question": "How can I download my projects as CSV?", "doc_id": "kb-003"},
        {"question": "Within how many days can I get a refund?", "doc_id": "kb-002"},
        {"question": "How do I reset my password?", "doc_id": "kb-001"},
        {"question": "no gold here", "doc_id": None},
    ]
    report = retrieval.retrieval_metrics(index, encoder, questions, ks=(1, 3))
    assert report.n_questions == 3 and report.skipped == 1
    assert report.recall_at[1] == 1.0 and report.mrr == 1.0
    # a wrong gold label must lower the numbers: the metric can fail
    wrong = [dict(questions[0], doc_id="kb-001")]
    bad = retrieval.retrieval_metrics(index, encoder, wrong, ks=(1, 3))
    assert bad.recall_at[1] == 0.0 and bad.recall_at[3] == 1.0 and 0 < bad.mrr < 1
    with pytest.raises(ConfigError, match="none of the"):
        retrieval.retrieval_metrics(index, encoder, [{"question": "q", "doc_id": "zzz"}])


def test_upsert_replaces_only_changed_docs_and_times_it(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    before = index.embeddings.copy()
    changed = retrieval.Document("kb-002", "Refund policy (v2)",
                                 "Refunds are now available within 60 days. Use the in-app refund form.")
    new = retrieval.Document("kb-004", "Dark mode", "Dark mode is in Settings, Appearance, Theme.")
    report = index.upsert(encoder, [changed, new])
    assert report.replaced == ["kb-002"] and report.added == ["kb-004"]
    assert report.chunks_embedded == 2 and report.seconds > 0
    assert len(index) == 4 and sorted(index.doc_ids) == ["kb-001", "kb-002", "kb-003", "kb-004"]
    assert [c.text for c in index.chunks if c.doc_id == "kb-002"][0].startswith("Refunds are now")
    np.testing.assert_array_equal(index.embeddings[0], before[0])  # untouched docs keep their vectors
    assert index.search(encoder, "How do I switch to a dark theme?", k=1)[0][0].doc_id == "kb-004"
    assert index.remove(["kb-004"]) == 1 and len(index) == 3


def test_save_and_load_round_trip(tmp_path, encoder, docs):
    index = retrieval.build_index(docs, encoder, retrieval.ChunkConfig(max_words=8, overlap=2))
    folder = index.save(tmp_path / "idx")
    loaded = retrieval.EmbeddingIndex.load(folder)
    assert loaded.chunks == index.chunks and loaded.config == index.config
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    assert not list(tmp_path.glob(".idx.tmp-*"))
    with pytest.raises(DataError, match="index.json"):
        retrieval.EmbeddingIndex.load(tmp_path / "nowhere")


def test_rag_messages_cite_passages_and_keep_question(docs):
    chunks = retrieval.chunk_documents(docs)
    hits = [retrieval.Hit(chunk=chunks[1], score=0.9, rank=1), retrieval.Hit(chunk=chunks[0], score=0.5, rank=2)]
    messages = retrieval.build_rag_messages("How long do refunds take?", hits, max_words=5)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert user.index("[kb-002]") < user.index("[kb-001]") < user.index("Question: How long do refunds take?")
    assert "Refunds are available within 30" in user and "30 days of purchase" not in user  # trimmed to 5 words
    assert "only the passages" in messages[0]["content"]
    assert retrieval.build_rag_messages("q", hits, system=None)[0]["role"] == "user"
    assert retrieval.cited_doc_ids("See [kb-002] and [kb-001], again [kb-002].") == ["kb-002", "kb-001"]


def test_revise_documents_edits_the_stated_fact(docs):
    edits = [{"doc_id": "kb-002", "old": "30 days", "new": "60 days"},
             {"doc_id": "kb-002", "old": "billing", "new": "the billing team"}]
    revised = retrieval.revise_documents(docs, edits)
    assert [d.doc_id for d in revised] == ["kb-002"]
    assert "within 60 days" in revised[0].text and "the billing team" in revised[0].text
    with pytest.raises(ConfigError, match="does not contain"):
        retrieval.revise_documents(docs, [{"doc_id": "kb-001", "old": "90 days", "new": "1 day"}])
    with pytest.raises(ConfigError, match="not in the knowledge base"):
        retrieval.revise_documents(docs, [{"doc_id": "kb-999", "old": "a", "new": "b"}])


def test_retrieval_metrics_accepts_several_gold_documents(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    q = [{"question": "How do I reset my password?", "doc_id": ["kb-003", "kb-001"]}]
    report = retrieval.retrieval_metrics(index, encoder, q, ks=(1,))
    assert report.recall_at[1] == 1.0 and report.ranks == [1]


# ---- lesson 06 additions: release edits, index copy, metrics by group, answering, grounding ----------------------

FACTS = [{"fact_id": "f-refund", "doc_id": "kb-002", "statement": "Refunds are available within 30 days of purchase.",
          "value": "30 days"}]
NOTES = [{"doc_id": "rn-1", "title": "v2", "text": "Refunds: 60 days now.", "changes": [
    {"fact_id": "f-refund", "old_value": "30 days", "new_value": "60 days",
     "statement": "Refunds are available within 60 days of purchase."},
    {"fact_id": "f-new", "old_value": None, "new_value": "dark", "statement": "A new feature."}]}]


def test_release_edits_turn_changes_into_sentence_edits(docs):
    edits = retrieval.release_edits(FACTS, NOTES)
    assert edits == [{"doc_id": "kb-002", "old": "Refunds are available within 30 days of purchase.",
                      "new": "Refunds are available within 60 days of purchase.", "fact_id": "f-refund"}]
    revised = retrieval.revise_documents(docs, edits)
    assert "within 60 days" in revised[0].text and "30 days" not in revised[0].text
    unknown = [{"doc_id": "rn-2", "changes": [{"fact_id": "f-missing", "old_value": "a", "statement": "b"}]}]
    with pytest.raises(ConfigError, match="f-missing"):
        retrieval.release_edits(FACTS, unknown)


def test_index_copy_is_independent(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    twin = index.copy()
    twin.upsert(encoder, [retrieval.Document("kb-002", "Refund policy", "Refunds within 60 days.")])
    twin.remove(["kb-001"])
    assert sorted(index.doc_ids) == ["kb-001", "kb-002", "kb-003"] and len(twin) == 2
    assert [c.text for c in index.chunks if c.doc_id == "kb-002"][0].startswith("Refunds are available within 30")


def test_retrieval_metrics_by_group_equals_per_group_metrics(encoder, docs):
    index = retrieval.build_index(docs, encoder)
    questions = [
        {"question": "How can I download my projects as CSV?", "doc_id": "kb-003", "kind": "a"},
        {"question": "Within how many days can I get a refund?", "doc_id": "kb-001", "kind": "b"},  # wrong gold
        {"question": "How do I reset my password?", "doc_id": "kb-001", "kind": "b"},
    ]
    table = retrieval.retrieval_metrics_by(index, encoder, questions, by="kind", ks=(1, 3))
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["recall@1", "recall@3", "mrr", "n"]
    for kind in ("a", "b"):
        alone = retrieval.retrieval_metrics(index, encoder, [q for q in questions if q["kind"] == kind], ks=(1, 3))
        assert table.loc[kind, "recall@1"] == pytest.approx(alone.recall_at[1])
        assert table.loc[kind, "mrr"] == pytest.approx(alone.mrr)
    assert table.loc["a", "recall@1"] == 1.0 and table.loc["b", "recall@1"] == 0.5 and table.loc["b", "n"] == 2


def test_answer_questions_builds_closed_book_and_rag_prompts(monkeypatch, encoder, docs):
    from course_lib import generation

    seen = {}

    def fake_generate(model, tokenizer, prompts, max_new_tokens, batch_size, progress, **kw):
        seen["prompts"], seen["batch"] = prompts, batch_size
        return [f"answer {i}" for i in range(len(prompts))]

    monkeypatch.setattr(generation, "generate_answers", fake_generate)
    index = retrieval.build_index(docs, encoder)
    closed = retrieval.answer_questions(None, None, ["How do I reset my password?"], system="Be brief.",
                                        batch_size=2, name="base")
    assert closed.hits is None and closed.answers == ["answer 0"] and closed.retrieval_seconds == 0
    assert seen["prompts"] == [[{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "How do I reset my password?"}]]
    rag = retrieval.answer_questions(None, None, ["How do I reset my password?", "Refund window?"], index=index,
                                     encoder=encoder, k=2, max_words=4, batch_size=2)
    assert [len(h) for h in rag.hits] == [2, 2] and rag.hits[0][0].doc_id == "kb-001"
    first = seen["prompts"][0]
    assert first[0]["content"] == retrieval.RAG_SYSTEM_PROMPT and "[kb-001] Password reset: To reset your password" \
        in first[1]["content"] and "open Settings" not in first[1]["content"]  # passages cut to 4 words
    assert rag.seconds >= rag.retrieval_seconds > 0 and rag.seconds_per_answer == pytest.approx(rag.seconds / 2)
    with pytest.raises(ConfigError, match="encoder"):
        retrieval.answer_questions(None, None, ["q"], index=index)


def test_stated_values_normalise_numbers_and_skip_citations():
    text = "Plus costs $5.99 [kb-02]; keep 1,000 notes, 8.00 or 8:00, AES-256, iOS17, v2 and 2.0."
    assert retrieval.stated_values(text) == ["5.99", "1000", "8", "8:00", "256", "2"]
    assert retrieval.stated_values("No numbers here [rn2-01].") == []


def test_grounding_defines_unsupported_answers(docs):
    chunks = retrieval.chunk_documents(docs)
    hits = [retrieval.Hit(chunk=chunks[1], score=0.9, rank=1)]  # kb-002: "within 30 days of purchase"
    ok = retrieval.check_grounding("Within 30 days [kb-002].", hits, "Refund window?")
    assert ok.values == ("30",) and ok.cites_shown and not ok.unsupported
    wrong_number = retrieval.check_grounding("Within 45 days [kb-002].", hits)
    assert wrong_number.unsupported_values == ("45",) and wrong_number.unsupported
    uncited = retrieval.check_grounding("Within 30 days.", hits)
    assert not uncited.unsupported_values and uncited.unsupported  # right number, but cites nothing shown
    cites_other = retrieval.check_grounding("Within 30 days [kb-009].", hits)
    assert cites_other.cited == ("kb-009",) and cites_other.unsupported
    from_question = retrieval.check_grounding("Yes, 3 devices [kb-002].", hits, "Can I use 3 devices?")
    assert not from_question.unsupported
    assert retrieval.check_grounding("I don’t know.", hits).abstained  # curly apostrophe too
    assert not retrieval.check_grounding("I don't know.").unsupported  # abstaining is never unsupported
    closed = retrieval.check_grounding("Refunds take 30 days.", (), known=docs)
    assert closed.unsupported and closed.invented_values == ()  # closed-book: unsupported, but not invented
    made_up = retrieval.check_grounding("Refunds take 45 days.", (), known=docs)
    assert made_up.invented_values == ("45",)
    trimmed = retrieval.check_grounding("30 days [kb-002]", hits, max_words=3)  # the model saw "Refunds are available"
    assert trimmed.unsupported_values == ("30",)
