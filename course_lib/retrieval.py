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

torch and sentence-transformers are imported only inside the encoder loader, never at module import.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError
from .files import replace_folder, staging_path

_DOC_FIELDS = ("doc_id", "title", "text")
_INDEX_FORMAT = 1


# ----------------------------------------------------------------------------------------------------------------
# Documents and chunks
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """One knowledge-base document: a stable ``doc_id`` (cited in answers), a ``title`` and the ``text``."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: the unit that is embedded and retrieved.

    Attributes:
        chunk_id: ``"<doc_id>#<n>"``, n counting from 0 within the document.
        doc_id / title: of the parent document.
        text: the passage (a window of whole words).
    """

    chunk_id: str
    doc_id: str
    title: str
    text: str


def documents_from_records(records, source: str = "<records>") -> list[Document]:
    """Validate dicts with ``doc_id``, ``title`` and ``text`` into :class:`Document` objects.

    Raises :class:`DataError` naming ``source`` and the 1-based record number when a field is missing or empty,
    or when a ``doc_id`` repeats (citations would be ambiguous).
    """
    docs, seen = [], {}
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(source, f"record is a {type(record).__name__}, not an object", "write one JSON object "
                            "{doc_id, title, text} per line", row=row)
        for name in _DOC_FIELDS:
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                raise DataError(source, f"field {name!r} is missing or empty", f"give every document a non-empty "
                                f"string {name!r}", row=row, column=name)
        doc_id = record["doc_id"].strip()
        if doc_id in seen:
            raise DataError(source, f"doc_id {doc_id!r} repeats the one on record {seen[doc_id]}",
                            "give every document a unique doc_id", row=row, column="doc_id")
        seen[doc_id] = row
        docs.append(Document(doc_id=doc_id, title=record["title"].strip(), text=record["text"].strip()))
    if not docs:
        raise DataError(source, "no documents", "add at least one {doc_id, title, text} record")
    return docs


def read_documents(path: str | os.PathLike) -> list[Document]:
    """Read a JSON Lines knowledge base (one ``{doc_id, title, text}`` object per line) and validate it."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found", "check the path (the shipped one is data/support/knowledge_base.jsonl)")
    records = []
    with path.open(encoding="utf-8") as handle:
        for row, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(path, f"line is not valid JSON ({err.msg})", "write one JSON object per line",
                                row=row) from None
    return documents_from_records(records, source=str(path))


def revise_documents(docs: list[Document], edits: list[dict]) -> list[Document]:
    """Return the documents changed by ``edits`` (``{"doc_id", "old", "new"}``: replace text ``old`` by ``new``).

    This is how a fact is updated in a knowledge base: edit the sentence that states it, then re-embed only the
    edited documents (:meth:`EmbeddingIndex.upsert`). Several edits to one document are applied in order. Raises
    :class:`ConfigError` when a ``doc_id`` is unknown or its text does not contain ``old``.
    """
    by_id = {d.doc_id: d for d in docs}
    texts: dict[str, str] = {}
    for edit in edits:
        doc_id = edit["doc_id"]
        if doc_id not in by_id:
            raise ConfigError(f"edit names doc_id {doc_id!r}, which is not in the knowledge base")
        text = texts.get(doc_id, by_id[doc_id].text)
        if edit["old"] not in text:
            raise ConfigError(f"document {doc_id} does not contain {edit['old']!r} — edit the sentence as it is "
                              "written in the document")
        texts[doc_id] = text.replace(edit["old"], edit["new"])
    return [Document(doc_id=i, title=by_id[i].title, text=t) for i, t in texts.items()]


@dataclass(frozen=True)
class ChunkConfig:
    """How documents are cut into passages.

    Attributes:
        max_words: words per passage. MiniLM reads at most 256 word pieces (~180 English words); 80 words keeps a
            passage well inside that and short enough that 3 passages fit a small model's prompt.
        overlap: words repeated between consecutive passages so a fact cut at a boundary appears whole in one.
        include_title: prefix each passage with its document title before embedding (titles carry topic words).
    """

    max_words: int = 80
    overlap: int = 20
    include_title: bool = True

    def __post_init__(self):
        if self.max_words < 1:
            raise ConfigError(f"ChunkConfig.max_words is {self.max_words} — use a positive number of words")
        if not 0 <= self.overlap < self.max_words:
            raise ConfigError(f"ChunkConfig.overlap is {self.overlap} — use 0 <= overlap < max_words "
                              f"({self.max_words})")


def chunk_documents(docs: list[Document], config: ChunkConfig | None = None) -> list[Chunk]:
    """Split each document into windows of ``config.max_words`` words overlapping by ``config.overlap``.

    A document no longer than ``max_words`` stays one chunk. Returns chunks in document order.
    """
    config = config or ChunkConfig()
    step = config.max_words - config.overlap
    chunks = []
    for doc in docs:
        words = doc.text.split()
        starts = [0] if len(words) <= config.max_words else list(range(0, len(words) - config.overlap, step))
        for n, start in enumerate(starts):
            text = " ".join(words[start:start + config.max_words])
            chunks.append(Chunk(chunk_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, title=doc.title, text=text))
    return chunks


# ----------------------------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------------------------

def embed_texts(encoder, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Embed ``texts`` with a SentenceTransformer; returns ``(len(texts), dim)`` float32, rows of unit L2 norm.

    Normalised rows make the dot product equal to cosine similarity, so search is one matrix product.
    """
    if not texts:
        dim = encoder.get_embedding_dimension()
        return np.zeros((0, dim), dtype=np.float32)
    vectors = encoder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def _chunk_input(chunk: Chunk, config: ChunkConfig) -> str:
    return f"{chunk.title}. {chunk.text}" if config.include_title else chunk.text


@dataclass
class Hit:
    """One retrieved document for one query: its best-scoring ``chunk``, the cosine ``score`` and 1-based ``rank``."""

    chunk: Chunk
    score: float
    rank: int

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass
class UpdateReport:
    """What :meth:`EmbeddingIndex.upsert` did: documents ``added`` / ``replaced`` (ids), chunks embedded, seconds.

    ``seconds`` is wall time for chunking + embedding + swapping rows: the cost of updating facts in a RAG system.
    """

    added: list[str]
    replaced: list[str]
    chunks_embedded: int
    seconds: float


@dataclass
class EmbeddingIndex:
    """Chunks and their embeddings; search by cosine similarity.

    Attributes:
        chunks: the passages, row ``i`` of ``embeddings`` belongs to ``chunks[i]``.
        embeddings: ``(len(chunks), dim)`` float32, L2-normalised rows.
        encoder_name: registry name of the encoder that made them (queries must use the same one).
        config: the chunking used, reused when documents are updated.
    """

    chunks: list[Chunk]
    embeddings: np.ndarray
    encoder_name: str = "minilm-l6"
    config: ChunkConfig = field(default_factory=ChunkConfig)

    def __post_init__(self):
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != len(self.chunks):
            raise ConfigError(f"index has {len(self.chunks)} chunks but embeddings of shape "
                              f"{self.embeddings.shape} — build it with build_index")

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def doc_ids(self) -> list[str]:
        """Distinct document ids, in index order."""
        return list(dict.fromkeys(c.doc_id for c in self.chunks))

    # -- search ----------------------------------------------------------------------------------------------
    def search_vectors(self, queries: np.ndarray, k: int = 3) -> list[list[Hit]]:
        """Top-``k`` distinct documents for each row of ``queries`` (``(n_queries, dim)``, unit norm).

        A document's score is its best chunk's cosine similarity; ties keep index order.
        """
        if k < 1:
            raise ConfigError(f"k is {k} — ask for at least one passage")
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.dim:
            raise ConfigError(f"query vectors have {queries.shape[1]} dimensions, the index {self.dim} — embed "
                              f"queries with the index's encoder ({self.encoder_name})")
        scores = queries @ self.embeddings.T  # (n_queries, n_chunks) cosine similarities
        results = []
        for row in scores:
            order = np.argsort(-row, kind="stable")
            hits, seen = [], set()
            for idx in order:
                chunk = self.chunks[idx]
                if chunk.doc_id in seen:
                    continue
                seen.add(chunk.doc_id)
                hits.append(Hit(chunk=chunk, score=float(row[idx]), rank=len(hits) + 1))
                if len(hits) == k:
                    break
            results.append(hits)
        return results

    def search(self, encoder, queries: list[str] | str, k: int = 3) -> list[list[Hit]]:
        """Embed ``queries`` (one string or a list) and return the top-``k`` documents for each."""
        if isinstance(queries, str):
            queries = [queries]
        return self.search_vectors(embed_texts(encoder, list(queries)), k=k)

    # -- updates ---------------------------------------------------------------------------------------------
    def upsert(self, encoder, docs: list[Document]) -> UpdateReport:
        """Add new documents and replace existing ones (same ``doc_id``): re-chunk and re-embed only those.

        Returns an :class:`UpdateReport` with the seconds it took.
        """
        start = time.perf_counter()
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            raise ConfigError("the update repeats a doc_id — pass each document once")
        existing = set(self.doc_ids)
        new_chunks = chunk_documents(docs, self.config)
        vectors = embed_texts(encoder, [_chunk_input(c, self.config) for c in new_chunks])
        updated = set(ids)
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in updated]
        self.chunks = [self.chunks[i] for i in keep] + new_chunks
        self.embeddings = np.concatenate([self.embeddings[keep], vectors], axis=0)
        return UpdateReport(added=[i for i in ids if i not in existing], replaced=[i for i in ids if i in existing],
                            chunks_embedded=len(new_chunks), seconds=time.perf_counter() - start)

    def copy(self) -> "EmbeddingIndex":
        """An independent copy (its own chunk list and embedding matrix): update one, keep the other as it was."""
        return EmbeddingIndex(chunks=list(self.chunks), embeddings=self.embeddings.copy(),
                              encoder_name=self.encoder_name, config=self.config)

    def remove(self, doc_ids: list[str]) -> int:
        """Drop every chunk of ``doc_ids``; returns how many chunks were removed."""
        drop = set(doc_ids)
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in drop]
        removed = len(self.chunks) - len(keep)
        self.chunks = [self.chunks[i] for i in keep]
        self.embeddings = self.embeddings[keep]
        return removed

    # -- persistence -----------------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``embeddings.npy``, ``chunks.jsonl`` and ``index.json`` into ``folder`` (replaced atomically).

        The files are written to a temporary sibling first and renamed into place, so an interrupted save never
        leaves a half-written index.
        """
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_path(folder)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        np.save(staging / "embeddings.npy", self.embeddings)
        with (staging / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in self.chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        meta = {"format": _INDEX_FORMAT, "encoder_name": self.encoder_name, "config": asdict(self.config),
                "n_chunks": len(self.chunks), "dim": self.dim}
        (staging / "index.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return replace_folder(staging, folder)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "EmbeddingIndex":
        """Read an index written by :meth:`save`; :class:`DataError` if a file is missing or inconsistent."""
        folder = Path(folder)
        meta_path = folder / "index.json"
        if not meta_path.exists():
            raise DataError(folder, "no index.json here", "point to a folder written by EmbeddingIndex.save")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != _INDEX_FORMAT:
            raise DataError(meta_path, f"index format {meta.get('format')!r} is not {_INDEX_FORMAT}",
                            "rebuild the index with this version of course_lib")
        chunks = []
        with (folder / "chunks.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    chunks.append(Chunk(**json.loads(line)))
        embeddings = np.load(folder / "embeddings.npy")
        if embeddings.shape != (len(chunks), meta["dim"]):
            raise DataError(folder / "embeddings.npy", f"shape {embeddings.shape} does not match "
                            f"{len(chunks)} chunks x {meta['dim']}", "rebuild the index (build_index + save)")
        return cls(chunks=chunks, embeddings=embeddings, encoder_name=meta["encoder_name"],
                   config=ChunkConfig(**meta["config"]))


def build_index(docs: list[Document], encoder=None, config: ChunkConfig | None = None,
                encoder_name: str = "minilm-l6") -> EmbeddingIndex:
    """Chunk and embed ``docs``. ``encoder`` defaults to the shipped MiniLM (loaded here, ~10 s the first time)."""
    if encoder is None:
        from .models import load_sentence_encoder

        encoder = load_sentence_encoder(encoder_name)
    config = config or ChunkConfig()
    chunks = chunk_documents(docs, config)
    vectors = embed_texts(encoder, [_chunk_input(c, config) for c in chunks])
    return EmbeddingIndex(chunks=chunks, embeddings=vectors, encoder_name=encoder_name, config=config)


# ----------------------------------------------------------------------------------------------------------------
# RAG prompts
# ----------------------------------------------------------------------------------------------------------------

RAG_SYSTEM_PROMPT = (
    "You are a support assistant. Answer the question using only the passages given. "
    "Cite the passage you used with its id in square brackets, like [kb-001]. "
    "If the passages do not contain the answer, say: I don't know."
)


def format_passages(hits: list[Hit], max_words: int | None = None) -> str:
    """The retrieved passages as prompt text, one per line: ``[doc_id] title: passage``.

    ``max_words`` trims each passage to keep the prompt short (small models lose the question in long prompts).
    """
    lines = []
    for hit in hits:
        words = hit.chunk.text.split()
        text = " ".join(words[:max_words]) if max_words else hit.chunk.text
        lines.append(f"[{hit.doc_id}] {hit.chunk.title}: {text}")
    return "\n".join(lines)


def build_rag_messages(question: str, hits: list[Hit], system: str | None = RAG_SYSTEM_PROMPT,
                       max_words: int | None = None) -> list[dict]:
    """Chat messages for a RAG answer: an instruction, the cited passages, then the question.

    Returns ``[{"role": "system", ...}, {"role": "user", ...}]`` (no system message if ``system`` is ``None``),
    ready for ``tokenizer.apply_chat_template``.
    """
    user = f"Passages:\n{format_passages(hits, max_words)}\n\nQuestion: {question}"
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    return messages


def plain_messages(question: str, system: str | None = None) -> list[dict]:
    """Chat messages for a closed-book answer (no passages), to compare with :func:`build_rag_messages`."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    return messages


_CITATION = re.compile(r"\[([A-Za-z0-9_.:\-]+)\]")


def cited_doc_ids(answer: str) -> list[str]:
    """Document ids cited in ``answer`` as ``[doc_id]``, in order of first appearance."""
    return list(dict.fromkeys(_CITATION.findall(answer)))


# ----------------------------------------------------------------------------------------------------------------
# Retrieval quality
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class RetrievalReport:
    """Retrieval quality on labelled questions.

    Attributes:
        recall_at: ``{k: share of questions whose gold document is among the top k}`` (0..1).
        mrr: mean reciprocal rank of the gold document (0 when it is not in the top ``max(ks)``).
        n_questions: questions scored (those with a gold ``doc_id`` present in the index).
        skipped: questions without a usable gold ``doc_id``.
        ranks: per scored question, the 1-based rank of the gold document, or ``None`` if not retrieved.
    """

    recall_at: dict[int, float]
    mrr: float
    n_questions: int
    skipped: int
    ranks: list[int | None]

    def as_row(self) -> dict:
        """Flat dict for a table: ``recall@1``, ``recall@3``, ..., ``mrr``, ``n``."""
        return {**{f"recall@{k}": v for k, v in self.recall_at.items()}, "mrr": self.mrr, "n": self.n_questions}


def _gold_ids(question: dict, gold_key: str, known: set) -> set:
    value = question.get(gold_key)
    ids = [value] if isinstance(value, str) else list(value or [])
    return {i for i in ids if i in known}


def _report(index: EmbeddingIndex, questions: list[dict], vectors: np.ndarray, ks: list[int],
            gold_key: str) -> RetrievalReport:
    """Recall@k and MRR for ``questions`` whose query embeddings are the rows of ``vectors``."""
    known = set(index.doc_ids)
    usable = [i for i, q in enumerate(questions) if _gold_ids(q, gold_key, known)]
    if not usable:
        raise ConfigError(f"none of the {len(questions)} questions has a {gold_key!r} found in the index — "
                          "check that the questions and the knowledge base belong together")
    hits = index.search_vectors(vectors[usable], k=max(ks))
    ranks = []
    for i, found in zip(usable, hits):
        gold = _gold_ids(questions[i], gold_key, known)
        ranks.append(next((h.rank for h in found if h.doc_id in gold), None))
    n = len(ranks)
    recall = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return RetrievalReport(recall_at=recall, mrr=mrr, n_questions=n, skipped=len(questions) - n, ranks=ranks)


def _check_ks(ks) -> list[int]:
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise ConfigError(f"ks is {ks} — give positive cut-offs such as (1, 3, 5)")
    return ks


def retrieval_metrics(index: EmbeddingIndex, encoder, questions: list[dict], ks=(1, 3, 5),
                      question_key: str = "question", gold_key: str = "doc_id") -> RetrievalReport:
    """Recall@k and MRR of ``index`` on ``questions`` (dicts with a question and its gold document id).

    The gold value may be one id or a list of ids (any of which answers the question, e.g. a release note and
    the revised document stating the same fact); the rank is that of the first gold document retrieved. Questions
    whose gold ids are empty or all absent from the index are skipped and counted in ``skipped``.
    """
    ks = _check_ks(ks)
    vectors = embed_texts(encoder, [q[question_key] for q in questions]) if questions else np.zeros((0, index.dim))
    return _report(index, list(questions), vectors, ks, gold_key)


def retrieval_metrics_by(index: EmbeddingIndex, encoder, questions: list[dict], by: str = "kind", ks=(1, 3, 5),
                         question_key: str = "question", gold_key: str = "doc_id"):
    """:func:`retrieval_metrics` per group of questions (e.g. per fact ``kind``), the questions embedded once.

    Returns a DataFrame indexed by the values of ``questions[i][by]`` (order of first appearance) with columns
    ``recall@k`` for each k, ``mrr`` and ``n`` (questions scored in the group).
    """
    import pandas as pd

    ks = _check_ks(ks)
    questions = list(questions)
    if not questions:
        raise ConfigError("no questions to score — pass at least one question with a gold document id")
    vectors = embed_texts(encoder, [q[question_key] for q in questions])
    rows = {}
    for group in dict.fromkeys(q.get(by) for q in questions):
        members = [i for i, q in enumerate(questions) if q.get(by) == group]
        rows[group] = _report(index, [questions[i] for i in members], vectors[members], ks, gold_key).as_row()
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by)


# ----------------------------------------------------------------------------------------------------------------
# Updating facts: from release notes to knowledge-base edits
# ----------------------------------------------------------------------------------------------------------------

def release_edits(facts: list[dict], release_notes: list[dict]) -> list[dict]:
    """The knowledge-base edits that bring stale documents in line with release notes.

    Args:
        facts: records ``{"fact_id", "doc_id", "statement", ...}`` (``data/support/facts.jsonl``): where each fact
            is stated, and the sentence as the knowledge base writes it.
        release_notes: records with ``changes``: lists of ``{"fact_id", "old_value", "new_value", "statement"}``
            (``data/support/release_notes_v2.jsonl``). A change with ``old_value`` ``None`` is a new feature: it
            has no stale sentence, so it produces no edit.

    Returns:
        ``[{"doc_id", "old", "new", "fact_id"}]`` for :func:`revise_documents`: replace the fact's old sentence by
        the release note's new one. Raises :class:`ConfigError` when a changed fact is not in ``facts``.
    """
    by_id = {f["fact_id"]: f for f in facts}
    edits = []
    for note in release_notes:
        for change in note.get("changes") or []:
            if change.get("old_value") is None:
                continue
            fact = by_id.get(change["fact_id"])
            if fact is None:
                raise ConfigError(f"release note {note.get('doc_id')} changes fact {change['fact_id']!r}, which "
                                  "facts.jsonl does not list — add the fact (with its doc_id and statement)")
            edits.append({"doc_id": fact["doc_id"], "old": fact["statement"], "new": change["statement"],
                          "fact_id": fact["fact_id"]})
    return edits


# ----------------------------------------------------------------------------------------------------------------
# Answering a question set: closed-book or with retrieval
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class SystemAnswers:
    """One system's answers to a question set, with what it retrieved and how long it took.

    Attributes:
        name: label for tables (``"base"``, ``"RAG"`` ...).
        answers: one generated answer per question, in order.
        hits: per question, the passages shown to the model (``None`` for a closed-book system).
        seconds: wall time of retrieval plus generation for the whole set.
        retrieval_seconds: the part of ``seconds`` spent embedding the questions and searching the index.
        batch_size: questions generated together; the latency per answer below is measured at this batch size.
    """

    name: str
    answers: list[str]
    hits: list[list[Hit]] | None
    seconds: float
    retrieval_seconds: float = 0.0
    batch_size: int = 1

    @property
    def seconds_per_answer(self) -> float:
        """Mean wall seconds per answer (batched generation: a batch's time divided by its answers)."""
        return self.seconds / len(self.answers) if self.answers else float("nan")


def answer_questions(model, tokenizer, questions: list[str], index: EmbeddingIndex | None = None, encoder=None,
                     k: int = 3, system: str | None = None, max_new_tokens: int = 48, batch_size: int = 8,
                     max_words: int | None = None, name: str = "model") -> SystemAnswers:
    """Answer ``questions`` greedily, closed-book (``index=None``) or with the top-``k`` passages of ``index``.

    Closed-book prompts are ``[system?, user question]`` (:func:`plain_messages`); retrieval prompts are
    :func:`build_rag_messages` with ``system`` (default :data:`RAG_SYSTEM_PROMPT`) and passages trimmed to
    ``max_words`` words. Generation is :func:`course_lib.generation.generate_answers` (batched, greedy).
    """
    from .generation import generate_answers

    questions = [str(q) for q in questions]
    if not questions:
        raise ConfigError("no questions to answer — pass at least one question")
    start = time.perf_counter()
    hits = None
    if index is None:
        prompts = [plain_messages(q, system) for q in questions]
    else:
        if encoder is None:
            raise ConfigError("answering with retrieval needs the index's encoder — pass encoder= (the "
                              f"{index.encoder_name} sentence encoder that built the index)")
        hits = index.search(encoder, questions, k=k)
        prompts = [build_rag_messages(q, h, system=system or RAG_SYSTEM_PROMPT, max_words=max_words)
                   for q, h in zip(questions, hits)]
    retrieval_seconds = time.perf_counter() - start if hits is not None else 0.0
    answers = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                               progress=False)
    return SystemAnswers(name=name, answers=answers, hits=hits, seconds=time.perf_counter() - start,
                         retrieval_seconds=retrieval_seconds, batch_size=batch_size)


# ----------------------------------------------------------------------------------------------------------------
# Grounding: is an answer supported by the passages it was shown?
# ----------------------------------------------------------------------------------------------------------------

# A number: digits with inner '.', ',' or ':' ("4.99", "1,000", "8:00"); not glued to a letter or a dot before it
# ("iOS17", "v2" and "mp3" are names, not stated values).
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:[.,:]\d+)*")
_ABSTAIN = re.compile(r"\b(?:don't|do not|dont) know\b|\bnot (?:in|mentioned in|stated in) the passages\b")


def stated_values(text: str) -> list[str]:
    """The numbers an answer states, in order of first appearance, normalised so equal values compare equal.

    Citations like ``[kb-02]`` are removed first (their digits are ids, not values). ``"$4.99"`` -> ``"4.99"``,
    ``"1,000"`` -> ``"1000"``, ``"8.00"`` -> ``"8"``; times such as ``"8:00"`` stay as written. Menu paths,
    shortcuts and names carry no number and are not extracted: this catches invented *numbers* (prices, limits,
    days, versions), the commonest and most checkable kind of unsupported claim.
    """
    text = _CITATION.sub(" ", str(text))
    values = []
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".") or "0"
        values.append(value)
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Grounding:
    """How well one answer is supported by the passages shown with its question.

    Attributes:
        values: numbers the answer states (:func:`stated_values`).
        unsupported_values: those found neither in the passages shown nor in the question.
        invented_values: those found nowhere in the whole knowledge base (``known``) nor the question; empty when
            no knowledge base was given. Comparable across closed-book and retrieval systems.
        cited: document ids the answer cites as ``[doc_id]``.
        cites_shown: at least one cited id is a passage that was shown.
        abstained: the answer declines ("I don't know", "not in the passages").

    An answer is **unsupported** (:attr:`unsupported`) when it does not abstain and either states a number that
    is not in the passages shown (or the question), or cites none of the passages shown. A closed-book answer is
    shown no passages, so every closed-book answer that does not abstain is unsupported by this definition: it
    may be right, but nothing the user can check backs it.
    """

    values: tuple[str, ...]
    unsupported_values: tuple[str, ...]
    invented_values: tuple[str, ...]
    cited: tuple[str, ...]
    cites_shown: bool
    abstained: bool

    @property
    def unsupported(self) -> bool:
        return not self.abstained and (bool(self.unsupported_values) or not self.cites_shown)


def check_grounding(answer: str, passages=(), question: str = "", known=None,
                    max_words: int | None = None) -> Grounding:
    """Check ``answer`` against the ``passages`` shown with ``question`` (see :class:`Grounding`).

    Args:
        answer: the generated answer.
        passages: what the model was shown: :class:`Hit` objects (their doc ids count as citable) or plain
            strings. Empty for a closed-book answer.
        question: the question (numbers it contains are not counted as unsupported).
        known: optional texts of the whole knowledge base (strings or :class:`Document` objects), for
            :attr:`Grounding.invented_values`.
        max_words: the trim used in the prompt (:func:`format_passages`): only the words the model saw count.
    """
    texts, shown_ids = [], set()
    for passage in passages:
        if isinstance(passage, Hit):
            words = passage.chunk.text.split()
            texts.append(f"{passage.chunk.title}. {' '.join(words[:max_words] if max_words else words)}")
            shown_ids.add(passage.doc_id)
        else:
            texts.append(str(passage))
    values = stated_values(answer)
    from_question = set(stated_values(question))
    evidence = set(stated_values(" ".join(texts))) | from_question
    unsupported = tuple(v for v in values if v not in evidence)
    invented: tuple[str, ...] = ()
    if known is not None:
        corpus = " ".join(f"{d.title}. {d.text}" if isinstance(d, Document) else str(d) for d in known)
        known_values = set(stated_values(corpus)) | from_question
        invented = tuple(v for v in values if v not in known_values)
    cited = tuple(cited_doc_ids(answer))
    normal = " ".join(str(answer).replace("\u2019", "'").lower().split())
    return Grounding(values=tuple(values), unsupported_values=unsupported, invented_values=invented, cited=cited,
                     cites_shown=any(c in shown_ids for c in cited), abstained=bool(_ABSTAIN.search(normal)))
