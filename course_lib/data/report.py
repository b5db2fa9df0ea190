"""The quality report: what :func:`~course_lib.data.prepare` did to a file, as a dict or as text, and
:class:`DropReason`, why it dropped a row.

Taught in notebook 01; ``python -m course_lib check-data`` prints it (``--json``: :meth:`QualityReport.to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

from .stats import label_balance


class DropReason(str, Enum):
    """Why :func:`~course_lib.data.prepare` dropped a row: the keys of ``QualityReport.dropped`` and the reason of
    each ``(row, reason, detail)`` in ``PrepResult.removed``.

    A member is its string (``DropReason.OFF_TOPIC == "off_topic"``, the same hash), so a dict keyed by reasons
    answers to the plain strings, ``json.dumps`` writes the string, and printing one (alone, in a dict or a
    pandas table) shows what it showed before the enum: ``off_topic``, ``{'off_topic': 3}``.
    """

    EMPTY_INSTRUCTION = "empty_instruction"
    EMPTY_OUTPUT = "empty_output"
    EMPTY_TEXT = "empty_text"
    EMPTY_LABEL = "empty_label"
    OFF_TOPIC = "off_topic"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    TOO_LONG = "too_long"

    @classmethod
    def empty(cls, fld: str) -> DropReason:
        """The reason for a row whose required course field ``fld`` is empty (``empty_output``)."""
        return cls(f"empty_{fld}")

    @classmethod
    def duplicate(cls, kind: str) -> DropReason:
        """The reason for a :class:`~course_lib.data.Duplicate` of ``kind`` ``"exact"`` or ``"near"``."""
        return cls(f"{kind}_duplicate")

    @property
    def is_duplicate(self) -> bool:
        """An exact or a near duplicate of a row that was kept (``detail`` is that row)."""
        return self in (DropReason.EXACT_DUPLICATE, DropReason.NEAR_DUPLICATE)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        # the plain string's repr, so a printed report.dropped or removed row reads as it did before the enum
        return repr(self.value)


@dataclass
class QualityReport:
    """What happened to a file. ``to_dict()`` is what ``check-data --json`` prints.

    Attributes:
        path, task, columns: the file, the task, and course field -> file column.
        rows_read: records in the file; rows_kept: records left after every step.
        dropped: :class:`DropReason` -> rows (``empty_output``, ``off_topic``, ``too_long``, ``exact_duplicate``,
            ``near_duplicate``, ...), in the order of the first drop of each.
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
