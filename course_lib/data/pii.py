"""PII redaction and detection: e-mail addresses, Luhn-valid card numbers, phone numbers.

Taught in notebook 01 (:func:`redact_pii`); :mod:`course_lib.continual` checks new data with :func:`find_pii`,
and ``data/make_datasets.py`` plants card numbers that pass :func:`luhn_valid`.
"""

from __future__ import annotations

import re
from collections import Counter


PII_PATTERNS: dict[str, re.Pattern] = {
    # order matters: cards before phones (a card number contains phone-like digit groups)
    "email": re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
    "card": re.compile(r"(?<![\d\w])(?:\d[ \-]?){12,18}\d(?![\d\w])"),
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\d{2,4}[ .\-])?\d{3}[ .\-]\d{4}(?!\d)"),
}
_HAS_7_DIGITS = re.compile(r"(?:\d\D{0,3}){7}")
PII_TOKENS = {"email": "[EMAIL]", "card": "[CARD]", "phone": "[PHONE]"}


def luhn_valid(digits: str) -> bool:
    """Whether a string of decimal digits passes the Luhn checksum that payment card numbers carry.

    Used to tell card numbers from other long digit runs (order ids, timestamps); the dataset generator uses it
    to plant card-like numbers that the detector must find.
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_pii(text: str) -> tuple[str, Counter]:
    """Replace e-mails, card-like numbers (13-19 digits passing the Luhn check) and phone numbers.

    Returns ``(redacted_text, Counter({"email": n, "card": n, "phone": n}))``. Number sequences that fail the
    Luhn check are left for the phone pattern (and untouched if they are not phone-shaped either).
    """
    counts: Counter = Counter()
    if "@" in text:
        text, n = PII_PATTERNS["email"].subn(PII_TOKENS["email"], text)
        counts["email"] += n
    if not _HAS_7_DIGITS.search(text):  # every card and phone pattern has at least 7 digits
        return text, counts

    def card(m):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            counts["card"] += 1
            return PII_TOKENS["card"]
        return m.group(0)

    text = PII_PATTERNS["card"].sub(card, text)
    text, n = PII_PATTERNS["phone"].subn(PII_TOKENS["phone"], text)
    counts["phone"] += n
    return text, counts


def find_pii(text: str) -> Counter:
    """Count PII items left in ``text`` (used by checks: should be empty after :func:`redact_pii`)."""
    return redact_pii(text)[1]
