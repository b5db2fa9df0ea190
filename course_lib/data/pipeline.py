"""The preparation pipeline: :func:`prepare` runs every step on one file and reports what it did.

Taught in notebook 01; notebook 07 (:mod:`course_lib.continual`) prepares new feedback with it, and
``python -m course_lib check-data`` prints its report. The steps, in order, each a function below::

    map columns -> validate values -> clean -> redact PII -> drop rows with an empty required field
    -> drop off-topic rows -> remove exact then near duplicates -> count tokens (length filter)
    -> checks on what is left (one class only, everything a duplicate)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import DataError
from .clean import CleanConfig, clean_text
from .dedup import find_duplicates
from .load import Table, load_table
from .pii import PII_TOKENS, redact_pii
from .report import DropReason, QualityReport
from .schema import TASKS, _check_labels, _value, example_text, resolve_columns
from .stats import length_stats, token_lengths
from .topic import off_topic_mask


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
class PrepResult:
    """Output of :func:`prepare`.

    Attributes:
        rows: kept examples as dicts of course fields (+ ``row``: line in the source file, + keep_columns).
        removed: ``(row, reason, detail)`` for every dropped record (reason: a :class:`DropReason`; detail: e.g.
            the row it duplicates).
        report: the :class:`QualityReport`.
    """

    rows: list
    removed: list
    report: QualityReport


@dataclass
class _Drops:
    """Rows removed so far: ``removed`` lists ``(row, reason, detail)`` in pipeline order, ``dropped`` counts
    each reason (its key order, first drop first, is the report's)."""

    removed: list = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    def add(self, row: int, reason: DropReason, detail=None) -> None:
        self.dropped[reason] += 1
        self.removed.append((row, reason, detail))


@dataclass
class _FieldCounts:
    """Tallies of the validate-and-clean step over every record of the file (also the ones dropped later)."""

    nulls: Counter = field(default_factory=Counter)    # course field -> records with a null or missing value
    empties: Counter = field(default_factory=Counter)  # required field -> records dropped because it is empty
    pii: Counter = field(default_factory=Counter)      # PII kind -> items replaced
    changed: int = 0                                   # records where cleaning changed at least one field


def _normalise_field(value: str, fld: str, cfg: PrepConfig, pii: Counter) -> tuple[str, bool]:
    """One field cleaned (a label is only stripped) and redacted; also whether cleaning changed it."""
    changed = False
    if cfg.clean is not None and fld != "label":
        cleaned = clean_text(value, cfg.clean)
        changed = cleaned != value
        value = cleaned
    elif fld == "label":
        value = value.strip()
    if cfg.redact_pii and fld != "label" and value:
        value, n = redact_pii(value)
        pii.update(n)
    return value, changed


def _build_row(rec: dict, line: int, path: str, cols: dict, required: tuple, cfg: PrepConfig,
               counts: _FieldCounts) -> tuple[dict, str | None]:
    """One record as course fields (+ ``row``, + keep_columns), and its first empty required field (or None)."""
    out = {"row": line}
    empty_field = None
    row_changed = False
    for fld, col in cols.items():
        v = _value(rec.get(col), path, line, col)
        if v is None:
            counts.nulls[fld] += 1
            v = ""
        v, changed = _normalise_field(v, fld, cfg, counts.pii)
        row_changed |= changed
        if not v and fld in required and empty_field is None:
            empty_field = fld
        out[fld] = v
    for col in cfg.keep_columns:
        out[col] = rec.get(col)
    counts.changed += row_changed
    return out, empty_field


def _validate_and_clean(table: Table, cols: dict, required: tuple, cfg: PrepConfig,
                        drops: _Drops) -> tuple[list, _FieldCounts]:
    """Every record validated, cleaned and redacted; records with an empty required field dropped (or, with
    ``strict``, the first one raises)."""
    rows, counts = [], _FieldCounts()
    for rec, line in zip(table.records, table.rows):
        out, empty_field = _build_row(rec, line, table.path, cols, required, cfg, counts)
        if empty_field:
            if cfg.strict:
                raise DataError(table.path, f"field {empty_field!r} (column {cols[empty_field]!r}) is empty",
                                "fill it in or delete the row (or run without strict to drop such rows)",
                                row=line, column=cols[empty_field])
            counts.empties[empty_field] += 1
            drops.add(line, DropReason.empty(empty_field))
            continue
        rows.append(out)
    return rows, counts


def _report_cleaning(report: QualityReport, counts: _FieldCounts, cfg: PrepConfig) -> None:
    report.rows_changed_by_cleaning = counts.changed
    if cfg.redact_pii:  # every row is redacted, also those dropped later, so counts cover the whole file
        report.pii_by_type = {k: counts.pii.get(k, 0) for k in PII_TOKENS}
        report.pii_redacted = sum(counts.pii.values())


def _nothing_left(table: Table, cols: dict, counts: _FieldCounts) -> DataError:
    """The error for a file where every record had an empty required field: null everywhere, or empty."""
    fld = max(counts.empties, key=counts.empties.get)
    col = cols[fld]
    if counts.nulls[fld] == len(table):
        return DataError(table.path, f"column {col!r} ({fld}) is null or missing in every row",
                         "check the export, or map the column that holds the data", column=col)
    return DataError(table.path, f"column {col!r} ({fld}) is empty in every row",
                     "fill it in, or map the column that holds the data", column=col)


def _drop_off_topic(rows: list, task: str, reference: list, drops: _Drops) -> list:
    """Rows whose prompt (instruction, or text) :func:`off_topic_mask` does not flag."""
    key = "instruction" if task == "instruction" else "text"
    mask = off_topic_mask([r[key] for r in rows], reference)
    kept = []
    for r, off in zip(rows, mask):
        if off:
            drops.add(r["row"], DropReason.OFF_TOPIC)
        else:
            kept.append(r)
    return kept


def _drop_duplicates(rows: list, task: str, threshold: float, path: str, drops: _Drops,
                     report: QualityReport) -> list:
    """Rows without their exact and near duplicates (a classification example's label counts as its text);
    raises when one example is all that is left of several."""
    texts = [example_text(r, task) + ("\n" + r["label"] if task == "classification" else "") for r in rows]
    dups = find_duplicates(texts, threshold)
    gone = {d.index for d in dups}
    for d in dups:
        drops.add(rows[d.index]["row"], DropReason.duplicate(d.kind), rows[d.of]["row"])
    report.duplicates_removed = len(dups)
    n_before = len(rows)
    rows = [r for i, r in enumerate(rows) if i not in gone]
    if len(rows) == 1 and n_before > 1:
        raise DataError(path, f"all {n_before} usable rows are duplicates of one example",
                        "export the real data; deduplication leaves a single row")
    return rows


def _measured_rows(rows: list, cfg: PrepConfig) -> list:
    """The rows whose tokens are counted: all, or an evenly spaced ``token_sample`` when no filter needs them all."""
    if cfg.token_sample and not cfg.max_tokens and len(rows) > cfg.token_sample:
        step = len(rows) / cfg.token_sample
        return [rows[int(k * step)] for k in range(cfg.token_sample)]
    return rows


def _count_tokens(rows: list, task: str, cfg: PrepConfig, drops: _Drops, report: QualityReport) -> list:
    """Token statistics into the report; with ``max_tokens``, rows without those longer than that."""
    measured = _measured_rows(rows, cfg)
    lengths = token_lengths([example_text(r, task) for r in measured], cfg.tokenizer)
    report.tokenizer = _tokenizer_name(cfg.tokenizer)
    if measured is not rows:
        report.tokenizer += f", sample of {len(measured)} rows"
    if cfg.max_tokens:
        kept, kept_len = [], []
        for r, n in zip(rows, lengths):
            if n > cfg.max_tokens:
                drops.add(r["row"], DropReason.TOO_LONG, n)
            else:
                kept.append(r)
                kept_len.append(n)
        rows, lengths = kept, kept_len
    report.token_lengths = length_stats(lengths)
    return rows


def _check_classes(rows: list, path: str, column: str, report: QualityReport) -> None:
    """Label balance into the report; raises for a single class, warns about case variants and tiny classes."""
    counts = Counter(r["label"] for r in rows)
    if len(counts) < 2:
        only = next(iter(counts), "?")
        raise DataError(path, f"only one label ({only!r}) in column {column!r}",
                        "classification needs at least two classes; add examples of the other classes",
                        column=column)
    report.label_balance = dict(counts.most_common())
    folded = Counter(k.casefold() for k in counts)
    for k, n in folded.items():
        if n > 1:
            report.warnings.append(f"labels differ only by case ({', '.join(x for x in counts if x.casefold() == k)})")
    if min(counts.values()) < 10:
        report.warnings.append("a class has fewer than 10 examples; a stratified split may leave it out")


def _warn_nulls(nulls: Counter, required: tuple, report: QualityReport) -> None:
    if nulls and any(nulls.values()):
        for fld, n in nulls.items():
            if n and fld in required:
                report.warnings.append(f"{n} rows had no value (null) for {fld}")


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
    drops = _Drops()
    if task == "classification":
        _check_labels(table, cols["label"], [rec.get(cols["label"]) for rec in table.records])
    rows, counts = _validate_and_clean(table, cols, required, cfg, drops)
    _report_cleaning(report, counts, cfg)
    if not rows:
        raise _nothing_left(table, cols, counts)
    if cfg.off_topic_reference is not None:
        rows = _drop_off_topic(rows, task, cfg.off_topic_reference, drops)
    if cfg.dedup and rows:
        rows = _drop_duplicates(rows, task, cfg.near_threshold, table.path, drops, report)
    rows = _count_tokens(rows, task, cfg, drops, report)
    if task == "classification":
        _check_classes(rows, table.path, cols["label"], report)
    _warn_nulls(counts.nulls, required, report)
    report.dropped = dict(drops.dropped)
    report.rows_kept = len(rows)
    return PrepResult(rows, drops.removed, report)


def _tokenizer_name(tok) -> str:
    if tok is None:
        return "approximate: words + punctuation"
    return getattr(tok, "name_or_path", None) or getattr(tok, "_course_name", None) or type(tok).__name__
