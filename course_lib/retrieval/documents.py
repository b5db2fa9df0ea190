"""Knowledge-base documents and the passages they are cut into: reading, validating, chunking (notebook 06).

:func:`read_documents` / :func:`documents_from_records` give :class:`Document` objects ``{doc_id, title, text}``;
:func:`chunk_documents` splits them into overlapping word windows (:class:`Chunk`, sized by :class:`ChunkConfig`),
so one passage fits the encoder's 256-token window and the decoder's prompt.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError

_DOC_FIELDS = ("doc_id", "title", "text")


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
