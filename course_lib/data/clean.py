"""Text normalisation of one value: mojibake, invisible characters, HTML, Unicode form, quotes, whitespace.

Taught in notebook 01 (:func:`clean_text` with a :class:`CleanConfig`); :func:`~course_lib.data.prepare`
cleans every field but the label with it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass


@dataclass
class CleanConfig:
    """How :func:`clean_text` normalises one value.

    Attributes:
        fix_mojibake: repair UTF-8 text that was decoded as Windows-1252 (``donâ€™t`` -> ``don’t``).
        strip_html: remove tags (``<p>``, ``<br>``; a line break for block tags) and unescape entities
            (``&gt;`` -> ``>``). Only real tags are removed: ``Settings > Sync`` is kept.
        unicode_form: Unicode normalisation (``"NFKC"`` folds full-width letters, ligatures, non-breaking spaces).
        remove_invisible: drop zero-width characters and soft hyphens.
        normalize_quotes: curly quotes and apostrophes -> straight ones (``’`` -> ``'``), so one word is not
            written (and tokenised) two ways.
        collapse_whitespace: runs of spaces/tabs -> one space, 3+ line breaks -> 2, strip the ends.
        rules: extra ``(regex, replacement)`` pairs applied last, in order (e.g. remove a signature).
    """

    fix_mojibake: bool = True
    strip_html: bool = True
    unicode_form: str | None = "NFKC"
    remove_invisible: bool = True
    normalize_quotes: bool = True
    collapse_whitespace: bool = True
    rules: tuple[tuple[str, str], ...] = ()


_MOJIBAKE_RUN = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                           "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,3}")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_BLOCK_TAG = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr)\b[^<>]*>", re.IGNORECASE)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
                         "\u201e": '"'})
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\s*\n\s*\n\s*")
_SPACE_NL = re.compile(r" ?\n ?")
_ODD_SPACE = re.compile(r"[\t\r\x0b\x0c]")


def _fix_mojibake(text: str) -> str:
    def repair(m):
        try:
            return m.group(0).encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return m.group(0)

    return _MOJIBAKE_RUN.sub(repair, text)


def clean_text(text: str, config: CleanConfig | None = None) -> str:
    """Normalise one value: mojibake, invisible characters, HTML, Unicode form, quotes, rules, whitespace."""
    c = config or CleanConfig()
    if text.isascii() and "<" not in text and "&" not in text and not c.rules:
        # fast path (most rows of most files): ASCII text is unchanged by mojibake repair, NFKC, quote and
        # invisible-character handling, so only whitespace can need work
        if c.collapse_whitespace and (text != text.strip() or "  " in text or " \n" in text or "\n " in text
                                      or "\n\n\n" in text or _ODD_SPACE.search(text)):
            text = _collapse(text)
        return text
    if c.fix_mojibake and ("\u00e2" in text or "\u00c3" in text or "\u00c2" in text):
        text = _fix_mojibake(text)
    if c.remove_invisible:  # first: a zero-width space inside "<div class=...>" would hide the tag
        text = _INVISIBLE.sub("", text)
    if c.strip_html and ("<" in text or "&" in text):
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
        text = html.unescape(text)
    if c.unicode_form:
        text = unicodedata.normalize(c.unicode_form, text)
    if c.normalize_quotes:
        text = text.translate(_QUOTES)
    for pattern, repl in c.rules:
        text = re.sub(pattern, repl, text)
    if c.collapse_whitespace:
        text = _collapse(text)
    return text


def _collapse(text: str) -> str:
    """Spaces/tabs -> one space, CR/CRLF -> LF, 3+ line breaks -> 2, no spaces around line breaks, stripped."""
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _NEWLINES.sub("\n\n", text)
    return _SPACE_NL.sub("\n", text).strip()
