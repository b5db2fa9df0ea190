"""Instruction records for training: read from a data file, split off a held-out set, subsample to a budget.

Taught in notebook 03; notebooks 04 and 05 read their data with :func:`read_records` too (``DATA_PATH``, ``COLUMNS``),
the ``train``/``evaluate``/``retrain`` commands with ``--map``, and notebook 07 splits each new data file the same way.
"""

from __future__ import annotations

import random

from ..errors import DataError


def read_records(path, columns: dict | None = None) -> list[dict]:
    """Instruction records ``{"instruction", "input", "output", ...}`` from a data file, ready for :func:`train`.

    Reading and column detection are :mod:`course_lib.data`'s (CSV/TSV/JSON/JSONL/Parquet; ``prompt``/``response``,
    ``question``/``answer``, ... are recognised; ``columns`` maps course field -> file column explicitly). Other
    fields of each record (``id``, ``keywords``...) are kept. Raises :class:`DataError` naming the file, row and fix
    when a record has no usable instruction or answer — clean such files with ``python -m course_lib check-data``
    and notebook 01 first.
    """
    from .. import data

    table = data.load_table(path)
    mapping = data.resolve_columns(table, "instruction", columns)
    records = []
    for row, raw in zip(table.rows, table.records):
        record = {k: v for k, v in raw.items() if k not in mapping.values()}
        for name, column in mapping.items():
            value = raw.get(column)
            if name == "input" and value is None:
                value = ""
            if not isinstance(value, str) or (name != "input" and not value.strip()):
                raise DataError(path, f"the {name!r} value (column {column!r}) is empty or not text",
                                "fill it in or drop the row (course_lib.data.prepare drops such rows)", row=row,
                                column=column)
            record[name] = value
        records.append(record)
    return records


def split_records(records: list, n_eval: int, seed: int = 0) -> tuple[list, list]:
    """Shuffle a copy of ``records`` with ``seed`` and hold out ``n_eval`` of them: ``(train, eval)``."""
    records = list(records)
    random.Random(seed).shuffle(records)
    n_eval = max(1, min(n_eval, len(records) // 5)) if len(records) > 1 else 0
    return records[n_eval:], records[:n_eval]


def _subsample(records: list, n: int | None, seed: int) -> list:
    if n is None or n >= len(records):
        return list(records)
    records = list(records)
    random.Random(seed).shuffle(records)
    return records[:n]
