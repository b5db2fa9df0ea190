"""Course fields per task, file column -> course field mapping, and checks on the values.

Taught in notebook 01. Course fields per task: ``instruction`` -> instruction, optional input, output;
``classification`` -> text, label; ``completion`` -> text. :func:`resolve_columns` finds each field's column
(an explicit mapping first, then common names); :func:`_value` and :func:`_check_labels` refuse values that
cannot be text (nested objects, binary, huge cells) and label columns that mix numbers and words.
"""

from __future__ import annotations

import math
import re

from ..errors import ConfigError, DataError
from .load import Table


TASKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # task: (required fields, optional fields)
    "instruction": (("instruction", "output"), ("input",)),
    "classification": (("text", "label"), ()),
    "completion": (("text",), ()),
}

# Common column names for each course field, most specific first (compared case-insensitively, ignoring
# spaces, dashes and underscores).
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "prompt", "question", "customer_question", "query", "user", "request",
                    "human", "problem"),
    "input": ("input", "context", "account_info", "additional_context", "extra"),
    "output": ("output", "response", "answer", "agent_reply", "reply", "completion", "assistant", "target",
               "solution"),
    "text": ("text", "review", "review_text", "sentence", "content", "body", "comment", "document", "document_text"),
    "label": ("label", "sentiment", "labels", "class", "category", "target", "rating", "polarity"),
}


MAX_FIELD_CHARS = 100_000  # one value longer than this is almost always a mistake (a whole book in one cell)


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).lower())


def parse_mapping(items) -> dict[str, str]:
    """``["output=agent_reply", ...]`` (the CLI's ``--map``) -> ``{"output": "agent_reply"}``.

    The one parser of ``--map`` for every command that reads data (``check-data``, ``train``, ``evaluate``,
    ``retrain``). Whether each field belongs to the task and each column to the file is checked by
    :func:`resolve_columns`, once the file is read.
    """
    mapping: dict[str, str] = {}
    for item in items or []:
        fld, sep, col = item.partition("=")
        fld, col = fld.strip(), col.strip()
        if not sep or not fld or not col:
            raise ConfigError(f"--map {item!r} is not FIELD=COLUMN — write it like --map output=agent_reply")
        if fld in mapping:
            raise ConfigError(f"--map maps {fld!r} twice (to {mapping[fld]!r} and {col!r}) — keep one --map per field")
        mapping[fld] = col
    return mapping


def resolve_columns(table: Table, task: str, mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Course field -> file column for ``task``: explicit ``mapping`` first, then common names.

    Raises :class:`DataError` listing the columns found when a required field has no column.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} — use one of: {', '.join(TASKS)}")
    required, optional = TASKS[task]
    fields = required + optional
    found = ", ".join(table.columns) or "none"
    result: dict[str, str] = {}
    for fld, col in (mapping or {}).items():
        if fld not in fields:
            raise ConfigError(f"--map {fld}={col}: {fld!r} is not a field of the {task} task "
                              f"— use one of: {', '.join(fields)}")
        if col not in table.columns:
            raise DataError(table.path, f"column {col!r} (mapped to {fld}) not found; columns found: {found}",
                            "fix the mapping to name one of those columns", column=col)
        result[fld] = col
    by_norm = {_norm_name(c): c for c in table.columns}
    used = set(result.values())
    for fld in fields:
        if fld in result:
            continue
        for name in COMMON_NAMES[fld]:
            col = by_norm.get(_norm_name(name))
            if col is not None and col not in used:
                result[fld] = col
                used.add(col)
                break
    if task == "instruction" and "instruction" not in result and "input" in result:
        result["instruction"] = result.pop("input")  # files with only input/output use 'input' as the prompt
    missing = [f for f in required if f not in result]
    if missing:
        fld = missing[0]
        raise DataError(table.path, f"no column for the required field {fld!r}; columns found: {found}",
                        f"rename a column to {fld!r} or map one: --map {fld}=COLUMN (Python: columns={{'{fld}': "
                        "'COLUMN'})")
    return {f: result[f] for f in fields if f in result}


def _value(value, path, row, column) -> str | None:
    """A field value as text; ``None`` for missing/null. Nested objects and huge values raise DataError."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dict, list, tuple)):
        kind = "object" if isinstance(value, dict) else "list"
        raise DataError(path, f"field {column!r} holds a nested {kind}, expected text",
                        "flatten it (keep only the text inside) or map a different column", row=row, column=column)
    if isinstance(value, bytes):
        raise DataError(path, f"field {column!r} holds binary data, expected text",
                        "decode it to text before saving", row=row, column=column)
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_FIELD_CHARS:
        raise DataError(path, f"field {column!r} is {len(text):,} characters long (limit {MAX_FIELD_CHARS:,})",
                        "split long documents into passages, or check that a delimiter/quote is not broken",
                        row=row, column=column)
    return text


_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def _check_labels(table: Table, column: str, raw: list) -> None:
    """Labels must be all numbers or all text (``1`` next to ``"positive"`` is a mapping mistake)."""
    kinds: dict[str, tuple[int, object]] = {}
    for row, v in zip(table.rows, raw):
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, bool):
            kind = "boolean"
        elif isinstance(v, (int, float)):
            kind = "number"
        else:
            kind = "number" if _NUMBER.match(str(v).strip()) else "text"
        kinds.setdefault(kind, (row, v))
    if len(kinds) > 1:
        desc = " and ".join(f"{k}s (e.g. {v!r} on row {r})" for k, (r, v) in kinds.items())
        raise DataError(table.path, f"label column {column!r} mixes {desc}",
                        "use one kind of label everywhere, e.g. replace 0/1/2 by their class names",
                        row=max(r for r, _ in kinds.values()), column=column)


def example_text(row: dict, task: str) -> str:
    """The text of one example that duplicates and lengths are measured on."""
    if task == "instruction":
        return "\n".join(x for x in (row.get("instruction"), row.get("input"), row.get("output")) if x)
    return row.get("text") or ""
