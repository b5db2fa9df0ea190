"""Privacy: nothing personal reaches a training set; the known values to search for, read from a file (notebook 07)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError

TEXT_FIELDS = ("instruction", "input", "output")


def training_set_pii(examples: list[dict], known_values=(), fields=TEXT_FIELDS) -> list[dict]:
    """Every piece of personal data found in ``examples``: ``[{"index", "field", "kind", "value", "count"}, ...]``.

    One entry per example, field and kind: ``count`` is how many items of that kind the detector found there
    (``value`` says the same in words), or, for a known value, how often it occurs in the field.

    Two independent checks: :mod:`course_lib.data`'s PII detector (e-mail addresses, phone numbers, card-like
    numbers — the same patterns its cleaning redacts), and an exact search for ``known_values`` (e.g. every value
    planted in the raw export, from its manifest), which does not depend on the detector's patterns at all.
    An empty list is the proof that the set is clean.
    """
    from .. import data

    known = [str(v) for v in known_values if str(v).strip()]
    found = []
    for index, example in enumerate(examples):
        for name in fields:
            text = example.get(name)
            if not isinstance(text, str) or not text:
                continue
            for kind, count in data.find_pii(text).items():  # a Counter: kind -> how many
                if count:
                    found.append({"index": index, "field": name, "kind": kind, "value": f"{count} item(s)",
                                  "count": count})
            for value in known:
                if value in text:
                    found.append({"index": index, "field": name, "kind": "planted value", "value": value,
                                  "count": text.count(value)})
    return found


def _read_known_values(path) -> tuple[str, ...]:
    """Values to search for: a JSON file with a ``pii_values`` mapping (a raw export's manifest) or a list, or a
    text file with one value per line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(path, "no such file", "pass a manifest (JSON with pii_values) or a text file, one value a line")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(path, f"not valid JSON ({err.msg})", "fix the file or use one value per line",
                            row=err.lineno) from None
        values = payload.get("pii_values", payload) if isinstance(payload, dict) else payload
        if isinstance(values, dict):
            values = [v for group in values.values() for v in group]
        if not isinstance(values, list):
            raise DataError(path, "holds neither a list nor a pii_values mapping", "write a JSON list of values")
        return tuple(str(v) for v in values)
    return tuple(line.strip() for line in text.splitlines() if line.strip())
