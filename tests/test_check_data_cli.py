"""``python -m course_lib check-data``: exit codes, the one-line error, ``--json`` keys, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from course_lib.paths import REPO_ROOT, data_path


def _run(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "course_lib", "check-data", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_report_on_the_raw_export():
    out = _run(data_path("support", "support_raw_export.csv"), "--task", "instruction")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for part in ("rows read:       740", "exact_duplicate 24", "near_duplicate 30", "PII redacted:    91",
                 "instruction <- customer_question", "tokens/example:"):
        assert part in text, text


def test_json_report_keys_and_values():
    manifest = json.loads(data_path("support", "raw_export_manifest.json").read_text())
    out = _run(data_path("support", "support_raw_export.csv"), "--task", "instruction", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {"rows_read", "rows_kept", "dropped", "duplicates_removed", "pii_redacted"} <= set(report)
    assert report["rows_read"] == manifest["rows"]
    planted = manifest["planted"]
    assert report["duplicates_removed"] == planted["exact_duplicates"] + planted["near_duplicates"]
    assert report["pii_redacted"] == planted["pii_items"]
    assert report["rows_kept"] == report["rows_read"] - sum(report["dropped"].values())


def test_classification_with_mapping_and_split_leakage(tmp_path):
    import random

    rng = random.Random(0)
    words = [f"w{i}" for i in range(500)]
    rows = [(" ".join(rng.choice(words) for _ in range(12)), "good" if i % 2 else "bad",
             "test" if i < 4 else "train") for i in range(20)]
    rows.append((rows[1][0], rows[1][1], "train"))          # exact copy of a test row in train: leakage
    rows.append((rows[10][0].upper(), rows[10][1], "train"))  # near copy within train: not leakage
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars,split\n" + "".join(f"{t},{l},{s}\n" for t, l, s in rows))
    out = _run(path, "--task", "classification", "--map", "label=stars", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["columns"] == {"text": "review", "label": "stars"}
    assert report["label_balance"] == {"bad": 10, "good": 10}
    assert report["duplicates_removed"] == 2
    assert report["leakage"] == 1


@pytest.mark.parametrize("content, args, expected", [
    (None, [], "no such file"),
    ("question,notes\nq,n\n", [], "no column for the required field 'output'"),
    ('{"instruction": "q", "output": "a"}\n{"instruction": "q2", "output": \n', [], "line 2 is not valid JSON"),
    ("question,answer\nq,a\n", ["--map", "output"], "not FIELD=COLUMN"),
])
def test_unusable_input_exits_2_with_one_line(tmp_path, content, args, expected):
    suffix = ".jsonl" if content and content.startswith("{") else ".csv"
    path = tmp_path / f"input{suffix}"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    out = _run(path, "--task", "instruction", *args, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert expected in lines[0] and "Traceback" not in out.stderr
    if "FIELD=COLUMN" not in expected:
        assert lines[0].startswith(f"error: {path}")
        assert " — " in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_error_names_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\ngood,pos\nbad,neg\ncaf\xe9,neg\n")
    out = _run(path, "--task", "classification")
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {path}:4: is not valid UTF-8")
