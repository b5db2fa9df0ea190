"""RAG prompts: the retrieved passages, each tagged ``[doc_id]``, put in front of the question (notebook 06).

:func:`build_rag_messages` asks the model to answer from the passages and cite them (:data:`RAG_SYSTEM_PROMPT`);
:func:`plain_messages` is the closed-book prompt it is compared with.
"""

from __future__ import annotations

from ..formatting import chat_messages
from .index import Hit

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
    return chat_messages(f"Passages:\n{format_passages(hits, max_words)}\n\nQuestion: {question}", system or None)


def plain_messages(question: str, system: str | None = None) -> list[dict]:
    """Chat messages for a closed-book answer (no passages), to compare with :func:`build_rag_messages`."""
    return chat_messages(question, system or None)
