"""Retrieval-augmented generation (RAG): an embedding index over the knowledge base, and RAG prompts.

The pieces, in the order a notebook uses them:

1. :func:`read_documents` / :func:`documents_from_records` — knowledge-base documents ``{doc_id, title, text}``.
2. :func:`chunk_documents` — split long documents into overlapping word windows (:class:`Chunk`), so one passage
   fits the encoder's 256-token window and the decoder's prompt.
3. :func:`build_index` — embed every chunk with the shipped MiniLM sentence encoder
   (:func:`course_lib.models.load_sentence_encoder`) into an :class:`EmbeddingIndex`: a ``(n_chunks, 384)``
   float32 matrix of L2-normalised rows, so cosine similarity is a plain dot product (NumPy, no vector database).
4. :meth:`EmbeddingIndex.search` — top-k documents for each query (a document scores its best chunk).
5. :func:`build_rag_messages` — chat messages that put the retrieved passages, each tagged ``[doc_id]``, in front of
   the question and ask the model to answer from them and cite them.
6. :func:`retrieval_metrics` — recall@k and mean reciprocal rank against the gold ``doc_id`` of labelled questions.
7. :meth:`EmbeddingIndex.upsert` — replace or add documents (e.g. release notes v2); the returned
   :class:`UpdateReport` times the re-embedding: the whole cost of "updating a fact" in a RAG system.
   :func:`release_edits` turns release notes into sentence edits for :func:`revise_documents`.
8. :func:`answer_questions` — one system's answers to a question set, closed-book or with retrieval, timed
   (:class:`SystemAnswers`).
9. :func:`check_grounding` — is an answer supported by the passages it was shown? (numbers it states, citations,
   abstentions: :class:`Grounding`).

One concern per module; every name is used as ``course_lib.retrieval.<name>``, re-exported below:

* ``documents``: :class:`Document`, :class:`Chunk`, :func:`documents_from_records`, :func:`read_documents`,
  :class:`ChunkConfig`, :func:`chunk_documents`
* ``edits``: :func:`revise_documents`, :func:`release_edits` (updating facts in the knowledge base)
* ``index``: :func:`embed_texts`, :class:`Hit`, :class:`UpdateReport`, :class:`EmbeddingIndex` (search, upsert,
  save/load), :func:`build_index`
* ``prompts``: ``RAG_SYSTEM_PROMPT``, :func:`format_passages`, :func:`build_rag_messages`, :func:`plain_messages`
* ``metrics``: :class:`RetrievalReport`, :func:`retrieval_metrics`, :func:`retrieval_metrics_by`
* ``answering``: :class:`SystemAnswers`, :func:`answer_questions` (the closed-book vs RAG systems of notebook 06)
* ``grounding``: :func:`cited_doc_ids`, :func:`stated_values`, :class:`Grounding`, :func:`check_grounding`

A test that replaces a function for a caller patches it where the caller looks it up: :func:`answer_questions`
imports ``course_lib.generation.generate_answers`` when called, so a test patches it on ``course_lib.generation``.

torch and sentence-transformers are imported only inside the encoder loader, never at module import.
"""

from .answering import SystemAnswers, answer_questions
from .documents import Chunk, ChunkConfig, Document, chunk_documents, documents_from_records, read_documents
from .edits import release_edits, revise_documents
from .grounding import Grounding, check_grounding, cited_doc_ids, stated_values
from .index import EmbeddingIndex, Hit, UpdateReport, build_index, embed_texts
from .metrics import RetrievalReport, retrieval_metrics, retrieval_metrics_by
from .prompts import RAG_SYSTEM_PROMPT, build_rag_messages, format_passages, plain_messages

__all__ = [
    "RAG_SYSTEM_PROMPT",
    "Chunk", "ChunkConfig", "Document", "EmbeddingIndex", "Grounding", "Hit", "RetrievalReport", "SystemAnswers",
    "UpdateReport",
    "answer_questions", "build_index", "build_rag_messages", "check_grounding", "chunk_documents", "cited_doc_ids",
    "documents_from_records", "embed_texts", "format_passages", "plain_messages", "read_documents",
    "release_edits", "retrieval_metrics", "retrieval_metrics_by", "revise_documents", "stated_values",
]
