"""Data preparation: load, map columns, validate, clean, redact, deduplicate, filter, split, report.

Taught in notebook 01; notebooks 02-07 read and split their data through it, and ``python -m course_lib
check-data`` runs its pipeline.

The pipeline a learner runs on a raw file (and what ``python -m course_lib check-data`` runs)::

    table  = load_table(path)                          # CSV / TSV / JSON / JSONL / Parquet -> Table
    cols   = resolve_columns(table, "instruction")     # course field -> file column (detected or explicit)
    result = prepare(table, "instruction", cols)       # clean, drop empties, redact PII, dedup, length filter
    result.report                                      # QualityReport: rows read/kept, dropped by reason, ...
    splits = stratified_split(result.rows, ...)        # train / validation / test
    find_leakage(splits, fields)                       # near-duplicates across splits

Course fields per task: ``instruction`` -> instruction, optional input, output; ``classification`` -> text,
label; ``completion`` -> text. Every problem with the file raises :class:`~course_lib.errors.DataError` naming
the file, the row (1-based line number in the file; for CSV the header is line 1) and how to fix it.

One concern per module; every name is used as ``course_lib.data.<name>``, re-exported below:

* ``load``: :class:`Table`, :func:`load_table` (every format), :func:`load_jsonl`, :func:`save_jsonl`
* ``schema``: ``TASKS``, ``COMMON_NAMES``, :func:`parse_mapping`, :func:`resolve_columns`, value and label
  checks, :func:`example_text`
* ``clean``: :class:`CleanConfig`, :func:`clean_text`
* ``pii``: :func:`redact_pii`, :func:`find_pii`, :func:`luhn_valid`
* ``dedup``: :func:`find_duplicates`, :class:`Duplicate`, :func:`normalize_for_match`
* ``topic``: :func:`off_topic_mask`, :func:`content_words`
* ``stats``: :func:`token_lengths`, :func:`length_function`, :func:`length_stats`, :func:`padding_waste`,
  :func:`label_balance`, :func:`default_tokenizer`
* ``report``: :class:`QualityReport`, :class:`DropReason` (why a row was dropped)
* ``pipeline``: :class:`PrepConfig`, :func:`prepare` (one function per step), :class:`PrepResult`
* ``split``: :func:`stratified_split`, :func:`find_leakage`
* ``check``: :func:`run_check_data`, the ``check-data`` command (``course_lib.cli`` finds it here)

A test that replaces a function for a caller patches it where the caller looks it up: code outside the package
calls ``data.<name>``; inside it, a module looks a sibling's name up in its own namespace (``prepare`` calls
``course_lib.data.pipeline.find_duplicates``).

Only the standard library is imported at import time (numpy, rapidfuzz, pyarrow, tokenizers are imported inside
the functions that need them), so the command line starts fast and nothing pulls in torch.
"""

from .check import run_check_data
from .clean import CleanConfig, clean_text
# Private: the MinHash signatures, which tests/test_data.py checks for determinism.
from .dedup import Duplicate, _signatures, find_duplicates, normalize_for_match
from .load import SUPPORTED_FORMATS, Table, load_jsonl, load_table, save_jsonl
from .pii import PII_PATTERNS, PII_TOKENS, find_pii, luhn_valid, redact_pii
from .pipeline import PrepConfig, PrepResult, prepare
from .report import DropReason, QualityReport
from .schema import COMMON_NAMES, MAX_FIELD_CHARS, TASKS, example_text, parse_mapping, resolve_columns
from .split import find_leakage, stratified_split
from .stats import (Balance, default_tokenizer, label_balance, length_function, length_stats, padding_waste,
                    token_lengths)
from .topic import STOPWORDS, content_words, off_topic_mask

__all__ = [
    "COMMON_NAMES", "MAX_FIELD_CHARS", "PII_PATTERNS", "PII_TOKENS", "STOPWORDS", "SUPPORTED_FORMATS", "TASKS",
    "Balance", "CleanConfig", "DropReason", "Duplicate", "PrepConfig", "PrepResult", "QualityReport", "Table",
    "clean_text", "content_words", "default_tokenizer", "example_text", "find_duplicates", "find_leakage",
    "find_pii", "label_balance", "length_function", "length_stats", "load_jsonl", "load_table", "luhn_valid",
    "normalize_for_match", "off_topic_mask", "padding_waste", "parse_mapping", "prepare", "redact_pii",
    "resolve_columns", "run_check_data", "save_jsonl", "stratified_split", "token_lengths",
    # private, kept reachable for tests (see above)
    "_signatures",
]
