"""Grounding: is an answer supported by the passages it was shown? (notebook 06; used by evaluation, preference).

:func:`stated_values` finds the numbers an answer states, :func:`cited_doc_ids` the ``[doc_id]`` it cites, and
:func:`check_grounding` compares both with the passages shown (:class:`Grounding`, abstentions included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .documents import Document
from .index import Hit

_CITATION = re.compile(r"\[([A-Za-z0-9_.:\-]+)\]")


def cited_doc_ids(answer: str) -> list[str]:
    """Document ids cited in ``answer`` as ``[doc_id]``, in order of first appearance."""
    return list(dict.fromkeys(_CITATION.findall(answer)))


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
