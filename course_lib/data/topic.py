"""The off-topic filter: rows whose content words are mostly foreign to the domain.

Taught in notebook 01, which passes the product knowledge base as ``PrepConfig.off_topic_reference``; then
:func:`~course_lib.data.prepare` drops the rows :func:`off_topic_mask` flags. A crude, transparent filter.
"""

from __future__ import annotations

import re
from collections import Counter


STOPWORDS = frozenset("""a about above after again all also am an and any are as at be because been before being
both but by can could did do does doing don down during each few for from further get got had has have having he
her here hers him his how i if in into is it its itself just let me more most my no nor not now of off on once only
or other our out over own please same she should so some such than thanks thank that the their them then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours hi hello hey quick question any help tips tell know like best good""".split())


_CONTENT_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def content_words(text: str) -> set[str]:
    """Lower-cased words of 3+ letters that are not stop words (contractions like "won't" are skipped)."""
    return {w for w in _CONTENT_WORD.findall(text.lower().replace("\u2019", "'"))
            if "'" not in w and len(w) >= 3 and w not in STOPWORDS}


def off_topic_mask(texts: list[str], reference_texts: list[str] | None = None, min_known: float = 0.5,
                   min_df: int = 3) -> list[bool]:
    """True for texts whose content words are mostly foreign to the domain.

    The domain vocabulary is every content word of ``reference_texts`` (e.g. the product knowledge base) plus
    every content word used by at least ``min_df`` of ``texts`` themselves (a support export repeats its
    topics; an off-topic message uses words nobody else does). A text is flagged when less than ``min_known``
    of its content words are in that vocabulary. A crude, transparent filter: read what it flags before
    dropping anything.
    """
    words = [content_words(t) for t in texts]
    df = Counter(w for ws in words for w in ws)
    vocab = {w for w, n in df.items() if n >= min_df}
    for t in reference_texts or []:
        vocab |= content_words(t)
    return [bool(ws) and len(ws & vocab) / len(ws) < min_known for ws in words]
