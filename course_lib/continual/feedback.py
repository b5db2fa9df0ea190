"""User feedback (answers marked bad, with a correction) turned into validated training examples (notebook 07)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ConfigError, DataError


@dataclass
class FeedbackResult:
    """User feedback turned into training examples by :func:`feedback_examples`.

    Attributes:
        examples: validated instruction records ``{"instruction", "input", "output", "row"}`` (``output`` is the
            user's correction, cleaned and PII-redacted; ``row`` the 1-based position in the feedback).
        n_read: feedback items read; n_bad: items marked bad (the only ones that can become examples).
        report: :func:`course_lib.data.prepare`'s quality report on the items marked bad (drops by reason, PII
            redacted), exactly as for any data file.
        removed: ``(row, reason, detail)`` for every item marked bad that did not become an example.
    """

    examples: list
    n_read: int
    n_bad: int
    report: object
    removed: list

    def describe(self) -> str:
        dropped = ", ".join(f"{k} {v}" for k, v in self.report.dropped.items() if v) or "none"
        return (f"{self.n_read} feedback items, {self.n_bad} marked bad -> {len(self.examples)} training examples "
                f"(dropped: {dropped}; PII redacted: {self.report.pii_redacted})")


def feedback_examples(feedback, rating_field: str = "rating", bad_values=("bad",),
                      correction_field: str = "correction", config=None) -> FeedbackResult:
    """Training examples from user feedback: the items rated bad, with the user's correction as the answer.

    Args:
        feedback: a path (CSV/JSON/JSONL, as :func:`course_lib.data.load_table` reads) or a list of dicts, each
            with the question (``instruction``/``question``...), optional context (``input``), ``rating_field``
            and ``correction_field``; other fields (e.g. the model's rejected answer) are ignored, never trained on.
        bad_values: ratings that mark an answer bad (compared case-insensitively).
        config: a :class:`course_lib.data.PrepConfig` (default: clean, redact PII, drop empty answers and
            duplicates) — the same validation every training file gets, so a correction with no text, a
            customer's e-mail address or a duplicate never reaches training.

    Raises :class:`DataError` for unusable feedback (no question column, nested values ...), naming the item.
    """
    from .. import data

    if isinstance(feedback, (str, os.PathLike)):
        table = data.load_table(feedback)
    elif isinstance(feedback, list):
        columns = list(dict.fromkeys(k for item in feedback for k in item))
        table = data.Table(path=f"<{len(feedback)} feedback items>", fmt="json", columns=columns,
                           records=list(feedback), rows=list(range(1, len(feedback) + 1)))
    else:
        raise ConfigError(f"feedback must be a path or a list of dicts, not {type(feedback).__name__}")
    for name in (rating_field, correction_field):
        if name not in table.columns:
            raise DataError(table.path, f"no {name!r} field; fields found: {', '.join(table.columns) or 'none'}",
                            f"export the feedback with a {name!r} field, or pass {name}_field=... to name it")
    bad = {str(v).strip().lower() for v in bad_values}
    marked = [(row, rec) for row, rec in zip(table.rows, table.records)
              if str(rec.get(rating_field, "")).strip().lower() in bad]
    subset = data.Table(path=table.path, fmt=table.fmt, columns=table.columns,
                        records=[rec for _, rec in marked], rows=[row for row, _ in marked])
    if not marked:
        report = data.QualityReport(path=table.path, task="instruction", columns={})
        return FeedbackResult(examples=[], n_read=len(table), n_bad=0, report=report, removed=[])
    prepared = data.prepare(subset, "instruction", columns={"output": correction_field},
                            config=config or data.PrepConfig())
    return FeedbackResult(examples=prepared.rows, n_read=len(table), n_bad=len(marked), report=prepared.report,
                          removed=prepared.removed)
