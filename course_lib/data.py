"""Data preparation: load, map columns, validate, clean, redact, deduplicate, filter, split, report.

The pipeline a learner runs on a raw file (and what ``python -m course_lib check-data`` runs):

    table  = load_table(path)                          # CSV / TSV / JSON / JSONL / Parquet -> Table
    cols   = resolve_columns(table, "instruction")     # course field -> file column (detected or explicit)
    result = prepare(table, "instruction", cols)       # clean, drop empties, redact PII, dedup, length filter
    result.report                                      # QualityReport: rows read/kept, dropped by reason, ...
    splits = stratified_split(result.rows, ...)        # train / validation / test
    find_leakage(splits, fields)                       # near-duplicates across splits

Course fields per task: ``instruction`` -> instruction, optional input, output; ``classification`` -> text,
label; ``completion`` -> text. Every problem with the file raises :class:`~course_lib.errors.DataError` naming
the file, the row (1-based line number in the file; for CSV the header is line 1) and how to fix it.

This module imports only the standard library at import time (numpy, rapidfuzz, pyarrow, tokenizers are imported
inside the functions that need them), so the command line starts fast and nothing pulls in torch.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import random
import re
import sys
import unicodedata
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .files import write_text_atomic

# ----------------------------------------------------------------------------------------------------------
# Tasks and column names
# ----------------------------------------------------------------------------------------------------------
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

SUPPORTED_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                     ".parquet": "parquet", ".pq": "parquet"}
MAX_FIELD_CHARS = 100_000  # one value longer than this is almost always a mistake (a whole book in one cell)
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


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------
# Column mapping
# ----------------------------------------------------------------------------------------------------------
def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).lower())


def parse_mapping(items) -> dict[str, str]:
    """``["output=agent_reply", ...]`` (the CLI's ``--map``) -> ``{"output": "agent_reply"}``."""
    mapping = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--map {item!r} is not FIELD=COLUMN — write it like --map output=agent_reply")
        fld, col = item.split("=", 1)
        mapping[fld.strip()] = col.strip()
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


# ----------------------------------------------------------------------------------------------------------
# Cleaning
# ----------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------
# PII redaction
# ----------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------
# Duplicates (exact and near) with MinHash-style blocking + rapidfuzz verification
# ----------------------------------------------------------------------------------------------------------
_WORD = re.compile(r"\w+")


def normalize_for_match(text: str) -> str:
    """Case-folded words joined by single spaces: what near-duplicate comparison looks at."""
    return " ".join(_WORD.findall(text.casefold()))


def _signatures(norm_texts: list[str], n_hash: int, seed: int = 1, chunk: int = 32_768):
    """MinHash signatures (n_texts, n_hash) of each text's set of word bigrams (numpy, deterministic).

    Hash family: multiply-shift, ``((a*h + b) mod 2^64) >> 32`` with odd random 64-bit ``a`` (uint64
    arithmetic wraps, which is exactly the ``mod 2^64``); bigram ids ``h`` are CRC32 values. Computed in chunks
    of ``chunk`` bigrams so memory stays ~``chunk * n_hash * 8`` bytes.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, size=n_hash, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 63, size=n_hash, dtype=np.uint64)
    shift = np.uint64(32)
    sigs = np.empty((len(norm_texts), n_hash), dtype=np.uint64)
    hashes, offsets, first = [], [], 0
    for k, t in enumerate(norm_texts + [None]):
        if t is not None:
            words = t.split()
            grams = {words[i] + " " + words[i + 1] for i in range(len(words) - 1)} or set(words) or {""}
            offsets.append(len(hashes))
            hashes.extend(zlib.crc32(g.encode()) for g in grams)
        if hashes and (t is None or len(hashes) >= chunk):
            h = np.asarray(hashes, dtype=np.uint64)
            with np.errstate(over="ignore"):
                sig_all = (h[:, None] * a[None, :] + b[None, :]) >> shift
            sigs[first:first + len(offsets)] = np.minimum.reduceat(sig_all, np.asarray(offsets), axis=0)
            first += len(offsets)
            hashes, offsets = [], []
    return sigs


def _candidate_pairs(norm_texts: list[str], bands: int = 20, rows_per_band: int = 3, min_jaccard: float = 0.3,
                     max_bucket: int = 200):
    """Index pairs ``(i, j)``, i < j, likely to be near-duplicates (numpy arrays ``i``, ``j``).

    Locality-sensitive hashing on MinHash signatures of word bigrams: two texts with Jaccard similarity J share
    a band with probability 1 - (1 - J**rows_per_band)**bands (0.9999 at J=0.8, 0.998 at J=0.65, 0.9 at J=0.5 with the defaults),
    so near-duplicates are found without comparing all n² pairs. Pairs whose signatures agree on fewer than
    ``min_jaccard`` of positions (estimated Jaccard) are discarded; the caller verifies the rest exactly.
    Buckets larger than ``max_bucket`` (boilerplate shared by many rows) are skipped for that band.
    """
    import numpy as np

    n = len(norm_texts)
    sigs = _signatures(norm_texts, bands * rows_per_band)
    found = []
    mult = np.arange(1, rows_per_band + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        block = sigs[:, band * rows_per_band:(band + 1) * rows_per_band]
        keys = (block * mult).sum(axis=1)  # wraps modulo 2^64: a hash of the band
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        breaks = np.flatnonzero(np.diff(sk)) + 1
        starts = np.concatenate(([0], breaks))
        sizes = np.diff(np.concatenate((starts, [n])))
        for st, size in zip(starts[sizes > 1], sizes[sizes > 1]):
            if size > max_bucket:
                continue
            members = np.sort(order[st:st + size])
            ii, jj = np.triu_indices(size, k=1)
            found.append(members[ii] * n + members[jj])
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    i, j = codes // n, codes % n
    agree = (sigs[i] == sigs[j]).mean(axis=1)
    keep = agree >= min_jaccard
    return i[keep], j[keep]


@dataclass
class Duplicate:
    """One removed duplicate: ``index`` duplicates ``of`` (both positions in the input list, ``of < index``)."""

    index: int
    of: int
    kind: str  # "exact" (identical text) or "near" (similarity >= threshold after case/punctuation folding)
    score: float  # rapidfuzz ratio 0-100


def find_duplicates(texts: list[str], threshold: float = 90.0) -> list[Duplicate]:
    """Exact and near duplicates in ``texts``; the first occurrence is kept, later ones are reported.

    Near duplicates: ``rapidfuzz.fuzz.ratio`` (normalised Indel similarity, 0-100) of the case-folded word
    sequences is at least ``threshold``; candidate pairs come from :func:`_candidate_pairs`. Chains are merged
    (a ~ b ~ c keeps only a).
    """
    from rapidfuzz import fuzz

    dups: dict[int, Duplicate] = {}
    first_seen: dict[str, int] = {}
    for i, t in enumerate(texts):
        if t in first_seen:
            dups[i] = Duplicate(i, first_seen[t], "exact", 100.0)
        else:
            first_seen[t] = i
    unique = sorted(first_seen.values())
    norms = [normalize_for_match(texts[i]) for i in unique]
    if len(unique) > 1:
        ci, cj = _candidate_pairs(norms)
        for x, y in zip(ci.tolist(), cj.tolist()):
            score = fuzz.ratio(norms[x], norms[y], score_cutoff=threshold)
            if score:
                i, j = unique[x], unique[y]
                if j not in dups:
                    dups[j] = Duplicate(j, i, "near", round(score, 1))
    for d in dups.values():  # point chains at the kept row
        while d.of in dups:
            d.of = dups[d.of].of
    return sorted(dups.values(), key=lambda d: d.index)


# ----------------------------------------------------------------------------------------------------------
# Off-topic rows, token lengths, balance
# ----------------------------------------------------------------------------------------------------------
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


def length_function(tokenizer=None):
    """A ``text -> int`` length function from a tokenizer, a callable, or ``None``.

    * ``None``: an approximation, words + punctuation marks (about 0.75x a BPE token count for English).
    * a callable returning an int (e.g. ``len``): used as is.
    * a Hugging Face tokenizer (``transformers`` or ``tokenizers``): number of token ids, no special tokens.
    """
    if tokenizer is None:
        pattern = re.compile(r"\w+|[^\w\s]")
        return lambda t: len(pattern.findall(t))
    if hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "apply_chat_template"):  # tokenizers.Tokenizer
        return lambda t: len(tokenizer.encode(t, add_special_tokens=False).ids)
    if hasattr(tokenizer, "encode"):
        return lambda t: len(tokenizer.encode(t, add_special_tokens=False))
    if callable(tokenizer):
        return tokenizer
    raise ConfigError(f"cannot count tokens with {type(tokenizer).__name__} — pass a tokenizer, a function or None")


def token_lengths(texts: list[str], tokenizer=None) -> list[int]:
    """Token count of each text (see :func:`length_function`); batched for fast tokenizers."""
    if tokenizer is not None and hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "apply_chat_template"):
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    if tokenizer is not None and hasattr(tokenizer, "apply_chat_template"):
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    fn = length_function(tokenizer)
    return [int(fn(t)) for t in texts]


def length_stats(lengths: list[int]) -> dict:
    """min / mean / median / p95 / max of a list of lengths (empty dict for an empty list)."""
    if not lengths:
        return {}
    s = sorted(lengths)

    def pct(q):
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]

    return {"min": s[0], "mean": round(sum(s) / len(s), 1), "median": pct(0.5), "p95": pct(0.95), "max": s[-1]}


def padding_waste(lengths: list[int], batch_size: int, max_len: int | None = None, sort: bool = False) -> float:
    """Fraction of token slots that are padding when batches are padded to their longest member.

    ``max_len`` truncates first; ``sort=True`` groups similar lengths (what length-grouped sampling does).
    """
    ls = [min(n, max_len) if max_len else n for n in lengths]
    if sort:
        ls = sorted(ls)
    total = real = 0
    for k in range(0, len(ls), batch_size):
        batch = ls[k:k + batch_size]
        total += max(batch) * len(batch)
        real += sum(batch)
    return 0.0 if total == 0 else 1 - real / total


@dataclass
class Balance:
    """Class balance of a label list: counts, shares, majority/minority ratio, majority-class accuracy."""

    counts: dict
    shares: dict
    imbalance_ratio: float
    majority_baseline: float

    def __str__(self) -> str:
        parts = [f"{k}: {v} ({self.shares[k]:.0%})" for k, v in self.counts.items()]
        return (", ".join(parts) + f" | majority/minority {self.imbalance_ratio:.1f}x, "
                f"always-majority accuracy {self.majority_baseline:.0%}")


def label_balance(labels) -> Balance:
    counts = dict(Counter(labels).most_common())
    n = sum(counts.values()) or 1
    shares = {k: v / n for k, v in counts.items()}
    values = list(counts.values()) or [0]
    return Balance(counts, shares, max(values) / max(1, min(values)), max(values) / n)


# ----------------------------------------------------------------------------------------------------------
# The pipeline
# ----------------------------------------------------------------------------------------------------------
@dataclass
class PrepConfig:
    """What :func:`prepare` does.

    Attributes:
        clean: text normalisation (:class:`CleanConfig`); ``None`` skips cleaning.
        redact_pii: replace e-mails / phone numbers / card numbers with ``[EMAIL]`` etc.
        dedup: remove exact and near duplicates (first occurrence kept).
        near_threshold: rapidfuzz ratio (0-100) at or above which two rows are near duplicates.
        off_topic_reference: texts defining the domain vocabulary (e.g. a knowledge base); rows sharing no
            content word with it are dropped as off-topic. ``None`` disables the filter.
        max_tokens: drop rows whose whole example is longer than this many tokens; ``None`` keeps all.
        tokenizer: what counts tokens (see :func:`length_function`); ``None`` approximates.
        keep_columns: file columns carried through unchanged (e.g. an id column), under their own names.
        strict: raise at the first row with an empty required field instead of dropping it.
        token_sample: count tokens on an evenly spaced sample of this many kept rows (the statistics say so);
            ``None`` counts every row. Ignored when ``max_tokens`` is set (filtering needs every length).
    """

    clean: CleanConfig | None = field(default_factory=CleanConfig)
    redact_pii: bool = True
    dedup: bool = True
    near_threshold: float = 90.0
    off_topic_reference: list | None = None
    max_tokens: int | None = None
    tokenizer: object = None
    keep_columns: tuple = ()
    strict: bool = False
    token_sample: int | None = None


@dataclass
class QualityReport:
    """What happened to a file. ``to_dict()`` is what ``check-data --json`` prints.

    Attributes:
        path, task, columns: the file, the task, and course field -> file column.
        rows_read: records in the file; rows_kept: records left after every step.
        dropped: reason -> rows (``empty_output``, ``off_topic``, ``too_long``, ``exact_duplicate``,
            ``near_duplicate``).
        duplicates_removed: exact + near duplicates removed (also inside ``dropped``).
        pii_redacted: PII items replaced, all kinds; pii_by_type: per kind.
        rows_changed_by_cleaning: rows where normalisation changed at least one field.
        token_lengths: min/mean/median/p95/max tokens of the kept examples; tokenizer: what counted them.
        label_balance: label -> count (classification only).
        leakage: duplicates (exact or near) whose original is in another split, when the file has a ``split``
            column (check-data sets it), else ``None``.
        warnings: things worth a look that did not stop the run.
    """

    path: str
    task: str
    columns: dict
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict = field(default_factory=dict)
    duplicates_removed: int = 0
    pii_redacted: int = 0
    pii_by_type: dict = field(default_factory=dict)
    rows_changed_by_cleaning: int = 0
    token_lengths: dict = field(default_factory=dict)
    tokenizer: str = ""
    label_balance: dict | None = None
    leakage: int | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self) -> str:
        lines = [f"check-data {self.path} (task: {self.task})",
                 "  columns:         " + ", ".join(f"{k} <- {v}" for k, v in self.columns.items()),
                 f"  rows read:       {self.rows_read}",
                 f"  rows kept:       {self.rows_kept}"]
        dropped = ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v) or "none"
        lines.append(f"  dropped:         {dropped}")
        lines.append(f"  duplicates:      {self.duplicates_removed} removed")
        pii = ", ".join(f"{k} {v}" for k, v in self.pii_by_type.items() if v)
        lines.append(f"  PII redacted:    {self.pii_redacted}" + (f" ({pii})" if pii else ""))
        lines.append(f"  cleaned:         {self.rows_changed_by_cleaning} rows changed by normalisation")
        if self.token_lengths:
            t = self.token_lengths
            lines.append(f"  tokens/example:  min {t['min']}, median {t['median']}, mean {t['mean']}, "
                         f"p95 {t['p95']}, max {t['max']}  ({self.tokenizer})")
        if self.label_balance is not None:
            lines.append("  labels:          " + str(label_balance(
                [k for k, v in self.label_balance.items() for _ in range(v)])))
        if self.leakage is not None:
            lines.append(f"  leakage:         {self.leakage} duplicates across splits")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


@dataclass
class PrepResult:
    """Output of :func:`prepare`.

    Attributes:
        rows: kept examples as dicts of course fields (+ ``row``: line in the source file, + keep_columns).
        removed: ``(row, reason, detail)`` for every dropped record (detail: e.g. the row it duplicates).
        report: the :class:`QualityReport`.
    """

    rows: list
    removed: list
    report: QualityReport


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


def prepare(source, task: str, columns: dict | None = None, config: PrepConfig | None = None) -> PrepResult:
    """Run the pipeline on a path or a :class:`Table`; see the module docstring.

    Order: map columns -> validate values -> clean -> redact PII -> drop rows with an empty required field ->
    drop off-topic rows -> remove exact then near duplicates -> length filter -> checks on what is left (one
    class only, everything a duplicate). Raises :class:`DataError` when the file cannot be used at all.
    """
    cfg = config or PrepConfig()
    table = source if isinstance(source, Table) else load_table(source)
    cols = resolve_columns(table, task, columns)
    required, _ = TASKS[task]
    report = QualityReport(path=table.path, task=task, columns=dict(cols), rows_read=len(table))
    removed: list = []
    dropped: Counter = Counter()

    if task == "classification":
        _check_labels(table, cols["label"], [rec.get(cols["label"]) for rec in table.records])

    rows, null_count, empty_count, pii_totals = [], Counter(), Counter(), Counter()
    changed = 0
    for rec, line in zip(table.records, table.rows):
        out = {"row": line}
        empty_field = None
        row_changed = False
        for fld, col in cols.items():
            v = _value(rec.get(col), table.path, line, col)
            if v is None:
                null_count[fld] += 1
                v = ""
            if cfg.clean is not None and fld != "label":
                cleaned = clean_text(v, cfg.clean)
                row_changed |= cleaned != v
                v = cleaned
            elif fld == "label":
                v = v.strip()
            if cfg.redact_pii and fld != "label" and v:
                v, n = redact_pii(v)
                pii_totals.update(n)
            if not v and fld in required and empty_field is None:
                empty_field = fld
            out[fld] = v
        for col in cfg.keep_columns:
            out[col] = rec.get(col)
        changed += row_changed
        if empty_field:
            if cfg.strict:
                raise DataError(table.path, f"field {empty_field!r} (column {cols[empty_field]!r}) is empty",
                                "fill it in or delete the row (or run without strict to drop such rows)",
                                row=line, column=cols[empty_field])
            empty_count[empty_field] += 1
            dropped[f"empty_{empty_field}"] += 1
            removed.append((line, f"empty_{empty_field}", None))
            continue
        rows.append(out)
    report.rows_changed_by_cleaning = changed
    if cfg.redact_pii:  # every row is redacted, also those dropped later, so counts cover the whole file
        report.pii_by_type = {k: pii_totals.get(k, 0) for k in PII_TOKENS}
        report.pii_redacted = sum(pii_totals.values())

    if not rows:
        fld = max(empty_count, key=empty_count.get)
        col = cols[fld]
        if null_count[fld] == len(table):
            raise DataError(table.path, f"column {col!r} ({fld}) is null or missing in every row",
                            "check the export, or map the column that holds the data", column=col)
        raise DataError(table.path, f"column {col!r} ({fld}) is empty in every row",
                        "fill it in, or map the column that holds the data", column=col)

    if cfg.off_topic_reference is not None:
        key = "instruction" if task == "instruction" else "text"
        mask = off_topic_mask([r[key] for r in rows], cfg.off_topic_reference)
        kept = []
        for r, off in zip(rows, mask):
            if off:
                dropped["off_topic"] += 1
                removed.append((r["row"], "off_topic", None))
            else:
                kept.append(r)
        rows = kept

    if cfg.dedup and rows:
        texts = [example_text(r, task) + ("\n" + r["label"] if task == "classification" else "") for r in rows]
        dups = find_duplicates(texts, cfg.near_threshold)
        gone = {d.index for d in dups}
        for d in dups:
            dropped[f"{d.kind}_duplicate"] += 1
            removed.append((rows[d.index]["row"], f"{d.kind}_duplicate", rows[d.of]["row"]))
        report.duplicates_removed = len(dups)
        n_before = len(rows)
        rows = [r for i, r in enumerate(rows) if i not in gone]
        if len(rows) == 1 and n_before > 1:
            raise DataError(table.path, f"all {n_before} usable rows are duplicates of one example",
                            "export the real data; deduplication leaves a single row")

    tok = cfg.tokenizer
    measured = rows
    if cfg.token_sample and not cfg.max_tokens and len(rows) > cfg.token_sample:
        step = len(rows) / cfg.token_sample
        measured = [rows[int(k * step)] for k in range(cfg.token_sample)]
    lengths = token_lengths([example_text(r, task) for r in measured], tok)
    report.tokenizer = _tokenizer_name(tok)
    if measured is not rows:
        report.tokenizer += f", sample of {len(measured)} rows"
    if cfg.max_tokens:
        kept, kept_len = [], []
        for r, n in zip(rows, lengths):
            if n > cfg.max_tokens:
                dropped["too_long"] += 1
                removed.append((r["row"], "too_long", n))
            else:
                kept.append(r)
                kept_len.append(n)
        rows, lengths = kept, kept_len
    report.token_lengths = length_stats(lengths)

    if task == "classification":
        counts = Counter(r["label"] for r in rows)
        if len(counts) < 2:
            only = next(iter(counts), "?")
            raise DataError(table.path, f"only one label ({only!r}) in column {cols['label']!r}",
                            "classification needs at least two classes; add examples of the other classes",
                            column=cols["label"])
        report.label_balance = dict(counts.most_common())
        folded = Counter(k.casefold() for k in counts)
        for k, n in folded.items():
            if n > 1:
                report.warnings.append(f"labels differ only by case ({', '.join(x for x in counts if x.casefold() == k)})")
        if min(counts.values()) < 10:
            report.warnings.append("a class has fewer than 10 examples; a stratified split may leave it out")
    if null_count and any(null_count.values()):
        for fld, n in null_count.items():
            if n and fld in required:
                report.warnings.append(f"{n} rows had no value (null) for {fld}")

    report.dropped = dict(dropped)
    report.rows_kept = len(rows)
    return PrepResult(rows, removed, report)


def _tokenizer_name(tok) -> str:
    if tok is None:
        return "approximate: words + punctuation"
    return getattr(tok, "name_or_path", None) or getattr(tok, "_course_name", None) or type(tok).__name__


# ----------------------------------------------------------------------------------------------------------
# Splits and leakage
# ----------------------------------------------------------------------------------------------------------
def stratified_split(rows: list, label_key: str | None = None, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                     names=("train", "validation", "test")) -> dict[str, list]:
    """Shuffle and split ``rows`` keeping each label's share in every split (``label_key=None``: plain split).

    Each class is split on its own (rounded counts), so a class with at least as many rows as splits appears
    in each of them.
    """
    if abs(sum(fractions) - 1) > 1e-6 or len(fractions) != len(names):
        raise ConfigError(f"split fractions {fractions} must sum to 1 and match {names}")
    rng = random.Random(seed)
    groups: dict = {}
    for r in rows:
        groups.setdefault(r[label_key] if label_key else None, []).append(r)
    out = {n: [] for n in names}
    for key in sorted(groups, key=str):
        items = groups[key][:]
        rng.shuffle(items)
        n = len(items)
        counts = [int(round(f * n)) for f in fractions[1:]]
        if n >= len(names):
            counts = [max(1, c) for c in counts]
        start = n - sum(counts)
        out[names[0]].extend(items[:start])
        for name, c in zip(names[1:], counts):
            out[name].extend(items[start:start + c])
            start += c
    for name in names:
        rng.shuffle(out[name])
    return out


def find_leakage(splits: dict[str, list], task: str = "instruction", threshold: float = 90.0) -> list[tuple]:
    """Near-duplicate pairs that cross splits: ``[(split_a, i, split_b, j, score), ...]``.

    Runs :func:`find_duplicates` on all splits together and keeps pairs whose members sit in different splits
    (both an exact copy and a light edit of a training example in the test set count as leakage).
    """
    owners, texts = [], []
    for name, rows in splits.items():
        for i, r in enumerate(rows):
            owners.append((name, i))
            texts.append(example_text(r, task) if isinstance(r, dict) else str(r))
    pairs = []
    for d in find_duplicates(texts, threshold):
        (a, i), (b, j) = owners[d.of], owners[d.index]
        if a != b:
            pairs.append((a, i, b, j, d.score))
    return pairs


# ----------------------------------------------------------------------------------------------------------
# Saving and the command line
# ----------------------------------------------------------------------------------------------------------
def save_jsonl(rows: list, path) -> Path:
    """Write ``rows`` as JSON Lines atomically (a temporary file renamed into place: never half-written)."""
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def load_jsonl(path) -> list[dict]:
    """Records of a JSONL file (through :func:`load_table`, so problems give a clear DataError)."""
    return load_table(path).records


def default_tokenizer():
    """The course decoder's tokenizer via the fast ``tokenizers`` library, or ``None`` if not cached yet.

    Reads ``tokenizer.json`` from the model cache (written by ``python -m course_lib prepare-models``), which
    takes ~0.1 s; importing transformers would take seconds.
    """
    try:
        from tokenizers import Tokenizer

        from .models import cache_root
    except ImportError:
        return None
    candidate = cache_root() / "models" / "smollm2-135m-instruct" / "tokenizer.json"
    if not candidate.exists():
        return None
    tok = Tokenizer.from_file(str(candidate))
    tok._course_name = "SmolLM2 tokenizer"
    return tok


def run_check_data(args) -> int:
    """``python -m course_lib check-data``: print the quality report (text or ``--json``); write nothing."""
    mapping = parse_mapping(args.map)
    table = load_table(args.path)
    split_col = next((c for c in table.columns if c.lower() == "split"), None)
    tok = default_tokenizer()
    keep = (split_col,) if split_col else ()
    # token statistics on a 1,000-row sample keep the command under ~3 s for 10k rows on 2 CPU cores
    result = prepare(table, args.task, mapping, PrepConfig(tokenizer=tok, keep_columns=keep, token_sample=1000))
    report = result.report
    if tok is None:
        report.warnings.append("token counts are approximate; run `python -m course_lib prepare-models` for exact ones")
    if split_col:
        # a duplicate whose original sits in another split is leakage; deduplication already removed it
        split_of = {row: str(rec.get(split_col)) for row, rec in zip(table.rows, table.records)}
        report.leakage = sum(1 for row, reason, of in result.removed
                             if reason.endswith("_duplicate") and split_of[row] != split_of[of])
        if report.leakage:
            report.warnings.append(f"{report.leakage} duplicates crossed splits (leakage); they were removed "
                                   "here, remove them from your split files too")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.to_text())
    return 0
