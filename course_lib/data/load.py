"""Reading data files into a :class:`Table`, and writing JSON Lines back.

Taught in notebook 01; notebooks 03-05 and the ``train``/``evaluate``/``retrain`` commands read their data
through it (:func:`course_lib.train.read_records`).

:func:`load_table` reads CSV / TSV / JSON (a list of records) / JSONL / Parquet, untouched: values as read,
each record with its 1-based location in the file. Every problem with the file raises
:class:`~course_lib.errors.DataError` naming the file, the line and how to fix it. pyarrow is imported only
to read Parquet.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..files import write_text_atomic


SUPPORTED_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                     ".parquet": "parquet", ".pq": "parquet"}
_FORMATS_HINT = "CSV, TSV, JSON, JSONL or Parquet"


@dataclass
class Table:
    """Records read from one file, untouched.

    Attributes:
        path: the file as given.
        fmt: ``"csv"``, ``"tsv"``, ``"json"``, ``"jsonl"`` or ``"parquet"``.
        columns: column names in file order (for JSON: order of first appearance).
        records: one dict per record (values as read: str for CSV, any JSON type for JSON).
        rows: 1-based location of each record (line number for text formats, record index for JSON arrays
            and Parquet), used in error messages.
    """

    path: str
    fmt: str
    columns: list[str]
    records: list[dict]
    rows: list[int]

    def __len__(self) -> int:
        return len(self.records)


def load_table(path) -> Table:
    """Read a CSV, TSV, JSON (list of records), JSONL or Parquet file into a :class:`Table`.

    Accepts a UTF-8 byte-order mark and CRLF line endings. Raises :class:`DataError` for a missing path, a
    folder, an unsupported extension, an empty or header-only file, non-UTF-8 or binary content, invalid JSON
    (naming the line), JSON that is not a list of records, ragged CSV rows and unreadable Parquet.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(path, "no such file",
                        f"check the path (relative paths start from {os.getcwd()}) or pass an absolute path")
    if p.is_dir():
        inside = sorted(x.name for x in p.iterdir() if x.suffix.lower() in SUPPORTED_FORMATS)[:5]
        hint = f" (data files in it: {', '.join(inside)})" if inside else ""
        raise DataError(path, "is a folder, not a data file", f"pass one file inside it{hint}")
    fmt = SUPPORTED_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise DataError(path, f"unsupported file type {p.suffix or '(no extension)'!r}",
                        f"save it as {_FORMATS_HINT} with the matching extension (.csv .tsv .json .jsonl .parquet)")
    if p.stat().st_size == 0:
        raise DataError(path, "the file is empty (0 bytes)", "export the data again; the file has no content")
    if fmt == "parquet":
        return _load_parquet(p, path)
    text = _read_text(p, path)
    if fmt in ("csv", "tsv"):
        return _load_csv(text, path, fmt)
    if fmt == "jsonl":
        return _load_jsonl(text, path)
    return _load_json(text, path)


def _read_text(p: Path, path) -> str:
    raw = p.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataError(path, "is UTF-16 encoded, not UTF-8",
                        "re-save it as UTF-8 (in Excel: 'CSV UTF-8'; or iconv -f UTF-16 -t UTF-8)")
    if b"\x00" in raw[:65536]:
        raise DataError(path, "contains binary data (NUL bytes), not text",
                        f"pass a text export ({_FORMATS_HINT}); a spreadsheet or archive must be exported first")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise DataError(path, f"is not valid UTF-8 (byte 0x{raw[err.start]:02x} on line {line})",
                        "re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT", row=line) from None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark (Excel writes one) is fine
    if not text.strip():
        raise DataError(path, "the file contains only whitespace", "export the data again; there are no records")
    return text


def _load_csv(text: str, path, fmt: str) -> Table:
    csv.field_size_limit(sys.maxsize)  # we check lengths ourselves, with a clearer message
    delimiter = "\t" if fmt == "tsv" else ","
    first_line = text.split("\n", 1)[0]
    if fmt == "csv" and "," not in first_line:
        for alt in (";", "\t", "|"):  # European Excel writes ';', some exports use tabs
            if alt in first_line:
                delimiter = alt
                break
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, "the file has no header line", "add a header with the column names") from None
    except csv.Error as err:
        raise DataError(path, f"the header line cannot be parsed ({err})", "fix the quoting of the first line",
                        row=1) from None
    header = [h.strip() for h in header]
    for i, name in enumerate(header, 1):
        if not name:
            raise DataError(path, f"column {i} has no name in the header", "give every column a name", row=1)
    dup = [n for n, c in Counter(header).items() if c > 1]
    if dup:
        raise DataError(path, f"the header repeats the column name {dup[0]!r}", "give every column a unique name",
                        row=1)
    records, rows = [], []
    prev_line = reader.line_num
    try:
        for values in reader:
            start = prev_line + 1
            prev_line = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip() and len(header) > 1):
                continue  # blank line
            if len(values) != len(header):
                raise DataError(path, f"row has {len(values)} values but the header has {len(header)} columns",
                                f"quote values that contain the delimiter {delimiter!r} or a line break "
                                "(\"like, this\")", row=start)
            records.append(dict(zip(header, values)))
            rows.append(start)
    except csv.Error as err:
        raise DataError(path, f"cannot be parsed as {fmt.upper()} ({err})",
                        "check the quoting near that line (an unclosed \" swallows the rest of the file)",
                        row=reader.line_num) from None
    if not records:
        raise DataError(path, f"has a header ({', '.join(header[:6])}) but no data rows",
                        "export the rows too, not only the column names")
    return Table(str(path), fmt, header, records, rows)


def _load_jsonl(text: str, path) -> Table:
    lines = text.splitlines()
    if lines and lines[0].strip() == "[":
        raise DataError(path, "looks like a JSON array, not JSON Lines", "rename it to .json, or write one object a line")
    records, rows, columns = [], [], {}
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"line {i} is not valid JSON ({err.msg} at column {err.colno})",
                            "fix or delete that line; each line must be one complete JSON object", row=i) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"line {i} is a JSON {_json_type(obj)}, not an object",
                            'write one object a line, like {"text": "...", "label": "..."}', row=i)
        for k in obj:
            columns.setdefault(k, None)
        records.append(obj)
        rows.append(i)
    return Table(str(path), "jsonl", list(columns), records, rows)


def _load_json(text: str, path) -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        hint = "fix the syntax there"
        stripped = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if len(stripped) > 1 and all(ln.startswith("{") for ln in stripped[:5]):
            hint = "it looks like JSON Lines (one object a line): rename it to .jsonl"
        raise DataError(path, f"is not valid JSON ({err.msg} on line {err.lineno}, column {err.colno})", hint,
                        row=err.lineno) from None
    if isinstance(data, dict):
        keys = ", ".join(list(data)[:5])
        lists = [k for k, v in data.items() if isinstance(v, list)]
        hint = (f"extract the list under {lists[0]!r} (e.g. json.load(f)[{lists[0]!r}]) and save it on its own"
                if lists else "save a list of records: [{...}, {...}]")
        raise DataError(path, f"the top level is a JSON object (keys: {keys}), not a list of records", hint)
    if not isinstance(data, list):
        raise DataError(path, f"the top level is a JSON {_json_type(data)}, not a list of records",
                        "save a list of records: [{...}, {...}]")
    if not data:
        raise DataError(path, "holds an empty list: no records", "export the records again")
    columns = {}
    for i, obj in enumerate(data, 1):
        if not isinstance(obj, dict):
            raise DataError(path, f"record {i} is a JSON {_json_type(obj)}, not an object",
                            'every element of the list must be an object like {"text": "..."}', row=i)
        for k in obj:
            columns.setdefault(k, None)
    return Table(str(path), "json", list(columns), data, list(range(1, len(data) + 1)))


def _load_parquet(p: Path, path) -> Table:
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(p)
    except ImportError:
        raise DataError(path, "reading Parquet needs the pyarrow package", "pip install pyarrow") from None
    except Exception as err:  # pyarrow raises several error types for a damaged file; all mean the same here
        reason = str(err).splitlines()[0].replace(f"'{p}'", "").replace(str(p), "").strip()
        reason = reason if len(reason) <= 100 else reason[:99].rstrip() + "…"
        raise DataError(path, f"cannot be read as Parquet ({reason})",
                        "export it again (the file may be truncated or not Parquet at all)") from None
    if table.num_rows == 0:
        raise DataError(path, f"has columns ({', '.join(table.column_names[:6])}) but no rows",
                        "export the rows too")
    records = table.to_pylist()
    return Table(str(path), "parquet", list(table.column_names), records, list(range(1, len(records) + 1)))


def _json_type(obj) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(obj), "number")


def save_jsonl(rows: list, path) -> Path:
    """Write ``rows`` as JSON Lines atomically (a temporary file renamed into place: never half-written)."""
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def load_jsonl(path) -> list[dict]:
    """Records of a JSONL file (through :func:`load_table`, so problems give a clear DataError)."""
    return load_table(path).records
