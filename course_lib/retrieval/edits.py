"""Updating facts in the knowledge base: release notes to sentence edits, edits to revised documents (notebook 06).

:func:`release_edits` turns release notes into ``{doc_id, old, new}`` edits; :func:`revise_documents` applies them
and returns only the changed documents, which :meth:`~course_lib.retrieval.index.EmbeddingIndex.upsert`
re-embeds.
"""

from __future__ import annotations

from ..errors import ConfigError
from .documents import Document


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
