"""Unit tests of course_lib.data (cleaning, PII, duplicates, splits, leakage) and of the shipped datasets.

Golden values: the planted counts come from data/support/raw_export_manifest.json, written by
data/make_datasets.py together with the raw export; the clean counts from data/README.md.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter

import pytest

from course_lib import data
from course_lib.paths import REPO_ROOT, data_path

SUPPORT = data_path("support")


def _jsonl(name):
    return [json.loads(line) for line in (SUPPORT / name).read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------------------------- cleaning
@pytest.mark.parametrize("raw, expected", [
    ("<p>Open Settings &gt; Sync.</p>", "Open Settings > Sync."),
    ("Settings > Sync stays", "Settings > Sync stays"),          # a '>' that is not a tag survives
    ("a < b and c > d", "a < b and c > d"),
    ("line one<br>line two<br/>", "line one\nline two"),
    ("don\u00e2\u20ac\u2122t panic", "don't panic"),             # mojibake repaired, then quotes straightened
    ("\uff21pp \ufb01les", "App files"),                          # NFKC: full-width letter, ligature
    ("zero\u200bwidth\u00a0space", "zerowidth space"),
    ("  lots   of\tspace \n\n\n\n next  ", "lots of space\n\nnext"),
    ("<div\u200b class=\"x\"><p>hidden tag</p></div>", "hidden tag"),
    ("\u201cquoted\u201d \u2018single\u2019", "\"quoted\" 'single'"),
])
def test_clean_text(raw, expected):
    assert data.clean_text(raw) == expected


def test_clean_rules_and_switches():
    cfg = data.CleanConfig(rules=((r"\n--\s*\nBrightleaf Support$", ""),))
    assert data.clean_text("<p>Answer.</p>\n<p>--<br>Brightleaf Support</p>", cfg) == "Answer."
    off = data.CleanConfig(strip_html=False, unicode_form=None, collapse_whitespace=False, fix_mojibake=False,
                           remove_invisible=False, normalize_quotes=False)
    assert data.clean_text("<b>x</b>  \ufb01", off) == "<b>x</b>  \ufb01"


# -------------------------------------------------------------------------------------------------- PII
@pytest.mark.parametrize("text, kinds", [
    ("write to jane.doe12@example.com please", {"email": 1}),
    ("call 555-0142 or (202) 555-0199 or +1 415 555 0123 or 617-555-0150", {"phone": 4}),
    ("card 4111 1111 1111 1111 and 4539-1488-0343-6467", {"card": 2}),
    ("a.b@mail.example.com and 555-0100", {"email": 1, "phone": 1}),
])
def test_redact_pii_finds_each_kind(text, kinds):
    redacted, counts = data.redact_pii(text)
    assert {k: v for k, v in counts.items() if v} == kinds
    assert not any(data.find_pii(redacted).values())


@pytest.mark.parametrize("text", [
    "Plus costs $4.99 per month", "Live chat is open Monday to Friday, 8:00 to 18:00 CET",
    "created 2026-01-22T12:00:00Z", "version 2.4.1 needs iOS 16", "order 1234 5678 9012 3456",  # fails Luhn
    "Ctrl+Shift+S forces a sync", "100 GB and 600 requests per minute",
])
def test_redact_pii_leaves_ordinary_numbers(text):
    assert data.redact_pii(text) == (text, data.redact_pii(text)[1])
    assert not any(data.redact_pii(text)[1].values())


# ------------------------------------------------------------------------------------------- duplicates
def test_find_duplicates_exact_near_and_chains():
    base = "How do I turn on sync? My notes are not showing on my phone, only on the laptop."
    texts = [
        base,                                         # 0 kept
        "Where can I change the theme to dark mode?",  # 1 kept: different
        base,                                         # 2 exact of 0
        base.upper(),                                 # 3 near of 0 (case folded)
        base.replace("phone, only", "phone only") + " Thanks!",  # 4 near of 0
        "How do I export a notebook as a PDF file for my records?",  # 5 kept
    ]
    dups = data.find_duplicates(texts, threshold=90)
    assert [(d.index, d.of, d.kind) for d in dups] == [(2, 0, "exact"), (3, 0, "near"), (4, 0, "near")]
    assert data.find_duplicates(texts[:2] + texts[5:]) == []


def test_threshold_controls_near_duplicates():
    a = ("The Plus plan costs four dollars ninety nine a month, includes ten gigabytes of storage, and can be "
         "cancelled at any time from the account settings page without losing any of your notes.")
    b = a.replace("ten gigabytes of storage", "twenty gigabytes of space")
    score = data.find_duplicates([a, b], threshold=50)[0].score
    assert 50 <= score < 100
    assert data.find_duplicates([a, b], threshold=score + 1) == []


def test_signatures_are_deterministic():
    texts = ["one two three four", "five six seven eight nine"]
    assert (data._signatures(texts, 8) == data._signatures(texts, 8)).all()


# ----------------------------------------------------------------------------- lengths, balance, splits
def test_lengths_and_padding_waste():
    assert data.token_lengths(["a b c", "hello, world"]) == [3, 3]
    assert data.token_lengths(["abc", "de"], len) == [3, 2]
    assert data.length_stats([1, 2, 3, 4, 100]) == {"min": 1, "mean": 22.0, "median": 3, "p95": 100, "max": 100}
    # batches [1, 9] and [1, 9]: 20 slots... 2*9 + 2*9 = 36 slots, 20 real -> 16/36 padding
    assert data.padding_waste([1, 9, 1, 9], batch_size=2) == pytest.approx(16 / 36)
    assert data.padding_waste([1, 9, 1, 9], batch_size=2, sort=True) == 0.0
    assert data.padding_waste([1, 9, 1, 9], batch_size=2, max_len=4) == pytest.approx(6 / 16)


def test_hf_tokenizer_lengths(smol):
    _, tok = smol
    texts = ["Open Settings > Sync.", "Hi"]
    assert data.token_lengths(texts, tok) == [len(tok.encode(t, add_special_tokens=False)) for t in texts]


def test_label_balance():
    b = data.label_balance(["pos"] * 6 + ["neg"] * 3 + ["neu"])
    assert b.counts == {"pos": 6, "neg": 3, "neu": 1}
    assert b.imbalance_ratio == 6 and b.majority_baseline == 0.6
    assert "pos: 6 (60%)" in str(b)


def test_stratified_split_keeps_shares_and_every_class():
    rows = [{"label": "pos", "i": i} for i in range(60)] + [{"label": "neg", "i": i} for i in range(25)] + \
           [{"label": "neu", "i": i} for i in range(15)]
    splits = data.stratified_split(rows, "label", (0.7, 0.1, 0.2), seed=3)
    assert sum(len(v) for v in splits.values()) == 100
    test = Counter(r["label"] for r in splits["test"])
    assert test == {"pos": 12, "neg": 5, "neu": 3}
    for part in splits.values():
        assert set(r["label"] for r in part) == {"pos", "neg", "neu"}
    ids = [(r["label"], r["i"]) for part in splits.values() for r in part]
    assert len(set(ids)) == 100  # nothing lost or repeated
    assert splits == data.stratified_split(rows, "label", (0.7, 0.1, 0.2), seed=3)  # deterministic


def test_leakage_found_across_splits_only():
    q = {"instruction": "How long are deleted notes kept in the trash before removal?", "output": "30 days."}
    splits = {"train": [q, {"instruction": "Dark mode?", "output": "View > Appearance > Dark."}],
              "test": [dict(q, instruction=q["instruction"].upper())]}
    pairs = data.find_leakage(splits)
    assert [(a, i, b, j) for a, i, b, j, _ in pairs] == [("train", 0, "test", 0)]
    splits["test"] = [{"instruction": "How do I export?", "output": "File > Export."}]
    assert data.find_leakage(splits) == []


def test_off_topic_mask():
    ref = ["Sync is turned on in Settings > Sync.", "Deleted notes stay in the trash for 30 days."]
    texts = ["How do I turn on sync?", "Do you know a good recipe for banana bread?", "Where is the trash?"]
    assert data.off_topic_mask(texts, ref) == [False, True, False]


def test_save_jsonl_is_atomic_and_round_trips(tmp_path):
    rows = [{"text": "ä", "label": "x"}]
    path = data.save_jsonl(rows, tmp_path / "out" / "a.jsonl")
    assert data.load_jsonl(path) == rows
    assert not list(path.parent.glob("*.tmp"))


def test_import_is_light():
    code = "import course_lib.data, course_lib.cli, sys; print(sorted(m for m in ('torch', 'transformers', " \
           "'numpy', 'pandas', 'rapidfuzz') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ shipped datasets
def test_generator_reproduces_the_committed_files():
    out = subprocess.run([sys.executable, "data/make_datasets.py", "--check"], capture_output=True, text=True,
                         cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr


def test_support_dataset_schema_and_counts():
    kb, facts = _jsonl("knowledge_base.jsonl"), _jsonl("facts.jsonl")
    clean, fq = _jsonl("support_clean.jsonl"), _jsonl("fact_questions.jsonl")
    notes, batch = _jsonl("release_notes_v2.jsonl"), _jsonl("support_new_batch.jsonl")
    assert len(kb) >= 40 and all(set(d) >= {"doc_id", "title", "text"} for d in kb)
    assert len(clean) >= 600 and len(batch) >= 140
    keys = {"id", "instruction", "input", "output", "category", "fact_ids", "keywords"}
    assert all(set(r) == keys for r in clean + batch)
    assert len({r["id"] for r in clean}) == len(clean)
    kinds = Counter(q["kind"] for q in fq)
    assert min(kinds["trained"], kinds["kb_only"], kinds["changed"]) >= 20
    # every answer contains its keywords; every fact statement sits in its document
    for r in clean + batch:
        assert all(k in r["output"] for k in r["keywords"]), r
    docs = {d["doc_id"]: d["text"] for d in kb + notes}
    for f in facts:
        assert f["statement"] in docs[f["doc_id"]]
    for q in fq:
        assert q["doc_id"] in docs and all(k in docs[q["doc_id"]] for k in q["keywords"]), q
    # kb-only facts never appear in the training pairs; changed facts carry their new value
    trained_ids = {fid for r in clean for fid in r["fact_ids"]}
    for f in facts:
        assert (f["fact_id"] in trained_ids) == f["in_training"]
    changes = {c["fact_id"]: c for n in notes for c in n["changes"]}
    assert len([c for c in changes.values() if c["old_value"] is not None]) >= 10
    for q in fq:
        if q["kind"] == "changed":
            assert all(k in changes[q["fact_id"]]["new_value"] for k in q["keywords"])
    held_out = {q["question"] for q in fq if q["kind"] == "trained"}
    assert not any(h in r["instruction"] for r in clean for h in held_out)


def test_clean_support_data_has_no_duplicates_or_pii():
    result = data.prepare(SUPPORT / "support_clean.jsonl", "instruction")
    assert result.report.duplicates_removed == 0 and result.report.pii_redacted == 0
    assert result.report.rows_kept == result.report.rows_read


# ---------------------------------------------------------------------------------------------- drop reasons
def test_drop_reasons_are_their_strings():
    """Every reason prepare() can give is a DropReason that reads, hashes, prints and serialises as its string."""
    for task, (required, _) in data.TASKS.items():
        for fld in required:
            assert data.DropReason.empty(fld) == f"empty_{fld}", task
    assert data.DropReason.duplicate("exact") is data.DropReason.EXACT_DUPLICATE
    assert data.DropReason.duplicate("near") is data.DropReason.NEAR_DUPLICATE
    assert {r for r in data.DropReason if r.is_duplicate} == {"exact_duplicate", "near_duplicate"}
    off = data.DropReason.OFF_TOPIC
    assert {off: 3}["off_topic"] == 3 and {"off_topic": 3}[off] == 3
    assert (str(off), f"{off}", f"{off:>10}", repr(off)) == ("off_topic", "off_topic", " off_topic", "'off_topic'")
    assert str({off: 3}) == "{'off_topic': 3}" and str([(5, off, None)]) == "[(5, 'off_topic', None)]"
    assert json.dumps({off: [off]}) == '{"off_topic": ["off_topic"]}'


def test_prepare_reports_drop_reasons(tmp_path):
    """The reasons in removed and in the report are DropReasons; the text, the JSON and a pandas table show the
    plain strings."""
    import pandas as pd

    path = tmp_path / "a.jsonl"
    rows = [{"instruction": "How do I sync?", "output": "Open Settings."}, {"instruction": "Hi?", "output": ""},
            {"instruction": "How do I sync?", "output": "Open Settings."},
            {"instruction": "Can I export my notes?", "output": "Yes: File > Export."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = data.prepare(path, "instruction")
    assert [(row, reason) for row, reason, _ in result.removed] == [(2, "empty_output"), (3, "exact_duplicate")]
    assert all(isinstance(reason, data.DropReason) for _, reason, _ in result.removed)
    assert [reason.is_duplicate for _, reason, _ in result.removed] == [False, True]
    assert result.report.dropped == {"empty_output": 1, "exact_duplicate": 1}
    assert "dropped:         empty_output 1, exact_duplicate 1" in result.report.to_text()
    assert json.loads(json.dumps(result.report.to_dict()))["dropped"] == {"empty_output": 1, "exact_duplicate": 1}
    removed = pd.DataFrame(result.removed, columns=["row", "reason", "detail"])
    assert removed.groupby("reason").size().to_dict() == {"empty_output": 1, "exact_duplicate": 1}
    assert "empty_output" in removed.to_string() and "DropReason" not in removed.to_string()


def test_raw_export_pipeline_finds_every_planted_problem():
    manifest = json.loads((SUPPORT / "raw_export_manifest.json").read_text())
    kb = [d["text"] for d in _jsonl("knowledge_base.jsonl")]
    table = data.load_table(SUPPORT / "support_raw_export.csv")
    cfg = data.PrepConfig(off_topic_reference=kb, keep_columns=("ticket_id",),
                          clean=data.CleanConfig(rules=((r"\n--\s*\nBrightleaf Support$", ""),)))
    result = data.prepare(table, "instruction", manifest["columns"], cfg)
    ticket = {row: rec["ticket_id"] for row, rec in zip(table.rows, table.records)}
    by_reason: dict = {}
    for row, reason, _ in result.removed:
        by_reason.setdefault(reason, set()).add(ticket[row])
    found_dups = by_reason.get("exact_duplicate", set()) | by_reason.get("near_duplicate", set())
    planted_dups = set(manifest["exact_duplicate_of"]) | set(manifest["near_duplicate_of"])
    assert found_dups == planted_dups
    assert set(manifest["exact_duplicate_of"]) <= by_reason["exact_duplicate"]
    assert set(manifest["empty_answer"]) <= by_reason["empty_output"]
    # off-topic spam without a reply is dropped as empty first; every other off-topic row by the filter
    assert set(manifest["off_topic"]) == by_reason["off_topic"] | (by_reason["empty_output"] - set(manifest["empty_answer"]))
    assert result.report.pii_redacted == manifest["planted"]["pii_items"]
    assert result.report.pii_by_type == manifest["planted"]["pii_by_type"]
    values = [v for vs in manifest["pii_values"].values() for v in vs]
    fields = ("instruction", "input", "output")
    assert not any(v in r[f] for r in result.rows for f in fields for v in values)
    assert not any(any(data.find_pii(r[f]).values()) for r in result.rows for f in fields)
    # what is left is the clean data set again (rows with PII differ only by the appended contact details)
    def ws(t):
        return " ".join(t.split())
    clean = {tuple(ws(r[f]) for f in fields) for r in _jsonl("support_clean.jsonl")}
    kept = [r for r in result.rows if "[EMAIL]" not in r["instruction"] and "[PHONE]" not in r["instruction"]
            and "[CARD]" not in r["instruction"]]
    assert all(tuple(ws(r[f]) for f in fields) in clean for r in kept)
    assert result.report.rows_kept == manifest["rows_from_clean"]


def test_reviews_dataset():
    with open(data_path("sentiment", "reviews.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 1000
    labels = Counter(r["label"] for r in rows)
    assert set(labels) == {"positive", "neutral", "negative"}
    assert labels["positive"] > 2 * labels["neutral"]  # deliberately imbalanced
    assert Counter(r["split"] for r in rows).keys() == {"train", "validation", "test"}
    result = data.prepare(data_path("sentiment", "reviews.csv"), "classification",
                          config=data.PrepConfig(keep_columns=("split",)))
    assert result.report.duplicates_removed == 0
    splits: dict = {}
    for r in result.rows:
        splits.setdefault(r["split"], []).append(r)
    assert data.find_leakage(splits, "classification") == []


def test_near_duplicate_recall_on_light_edits():
    """200 texts of 30 random words, each with a copy carrying 1-3 replaced words: every copy is found.

    With 20 bands of 3 MinHash rows a pair with bigram Jaccard 0.65 becomes a candidate with probability 0.998;
    one to three replaced words out of 30 leave Jaccard >= 0.7, and rapidfuzz ratio stays >= 90.
    """
    import random

    rng = random.Random(7)
    vocab = [f"word{i}" for i in range(3000)]
    originals = [[rng.choice(vocab) for _ in range(30)] for _ in range(200)]
    copies = []
    for words in originals:
        w = list(words)
        for _ in range(rng.randrange(1, 4)):
            w[rng.randrange(30)] = rng.choice(vocab)
        copies.append(w)
    texts = [" ".join(w) for w in originals + copies]
    dups = data.find_duplicates(texts, threshold=85)
    assert sorted((d.index, d.of) for d in dups) == [(200 + k, k) for k in range(200)]
