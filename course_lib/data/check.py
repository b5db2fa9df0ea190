"""``python -m course_lib check-data``: the quality report of one file, printed; nothing is written.

The command line's handler (``course_lib.cli._check_data``) imports :mod:`course_lib.data` and calls it there.
The same pipeline as notebook 01 (:func:`~course_lib.data.prepare`), with the course tokenizer when it is cached.
"""

from __future__ import annotations

import json

from .load import load_table
from .pipeline import PrepConfig, prepare
from .schema import parse_mapping
from .stats import default_tokenizer


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
                             if reason.is_duplicate and split_of[row] != split_of[of])
        if report.leakage:
            report.warnings.append(f"{report.leakage} duplicates crossed splits (leakage); they were removed "
                                   "here, remove them from your split files too")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.to_text())
    return 0
