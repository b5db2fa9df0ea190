"""The embedding index: chunks embedded with a sentence encoder, searched by cosine similarity (notebook 06).

:func:`build_index` embeds every chunk with the shipped MiniLM sentence encoder
(:func:`course_lib.models.load_sentence_encoder`) into an :class:`EmbeddingIndex`: a ``(n_chunks, 384)`` float32
matrix of L2-normalised rows, so cosine similarity is a plain dot product (NumPy, no vector database).
:meth:`EmbeddingIndex.search` returns :class:`Hit` objects, :meth:`EmbeddingIndex.upsert` re-embeds updated
documents (:class:`UpdateReport`), :meth:`EmbeddingIndex.save` / :meth:`EmbeddingIndex.load` persist it.

torch and sentence-transformers are imported only inside the encoder loader, never at module import.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..files import replace_folder, staging_path
from .documents import Chunk, ChunkConfig, Document, chunk_documents

_INDEX_FORMAT = 1


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
        from ..models import load_sentence_encoder

        encoder = load_sentence_encoder(encoder_name)
    config = config or ChunkConfig()
    chunks = chunk_documents(docs, config)
    vectors = embed_texts(encoder, [_chunk_input(c, config) for c in chunks])
    return EmbeddingIndex(chunks=chunks, embeddings=vectors, encoder_name=encoder_name, config=config)
