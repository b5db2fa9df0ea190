"""Comparing texts: the normalised form that exact and keyword match compare, and the check that two scored
lists pair up one to one (used by every scorer here, and by :mod:`course_lib.triage`).
Taught in notebook 04 (why exact match misleads)."""

from __future__ import annotations

import re
import unicodedata

from ..errors import ConfigError


_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case- and whitespace-insensitive form of ``text``: Unicode NFKC, lower case, runs of whitespace -> one space.

    Punctuation is kept on purpose: "2.5" and "25" must stay different for exact and keyword match.
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return _SPACES.sub(" ", text).strip()


def _check_same_length(a, b, what_a: str, what_b: str) -> None:
    if len(a) != len(b):
        raise ConfigError(f"{what_a} has {len(a)} items but {what_b} has {len(b)} — pass one {what_b[:-1]} "
                          f"per {what_a[:-1]}, in the same order")
