"""Malformed data files: each gives one DataError naming the file, the row where it applies, and a fix.

Every case writes a small file into tmp_path, runs the loading + preparation pipeline and checks the message
text, the row number and that the message carries a fix (the part after " — "). A final test checks that the
messages of all cases are distinct, so no two problems collapse into one vague sentence.
"""

from __future__ import annotations

import json

import pytest

from course_lib import data
from course_lib.errors import ConfigError, DataError


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def _jsonl(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def _parquet_one_class(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "one_class.parquet"
    pq.write_table(pa.table({"text": ["good", "great", "fine"], "label": ["pos", "pos", "pos"]}), path)
    return path


# (id, file name, content or factory, task, mapping, expected text in the message, expected row or None)
CASES = [
    ("empty_file", "a.csv", b"", "instruction", None, "the file is empty (0 bytes)", None),
    ("whitespace_only", "a.jsonl", "\n  \n\n", "instruction", None, "contains only whitespace", None),
    ("header_only", "a.csv", "instruction,output\r\n", "instruction", None, "but no data rows", None),
    ("missing_column", "a.csv", "question,notes\nhi,x\n", "instruction", None,
     "no column for the required field 'output'; columns found: question, notes", None),
    ("not_utf8", "a.csv", "text,label\nok,pos\ncaf\xe9,neg\n".encode("latin-1"), "classification", None,
     "is not valid UTF-8 (byte 0xe9 on line 3)", 3),
    ("utf16", "a.csv", "text,label\nok,pos\n".encode("utf-16"), "classification", None, "is UTF-16 encoded", None),
    ("invalid_json_line", "a.jsonl", _jsonl({"text": "a"}, {"text": "b"}) + '{"text": "c",\n', "completion", None,
     "line 3 is not valid JSON", 3),
    ("jsonl_line_not_object", "a.jsonl", _jsonl({"text": "a"}) + '["text", "b"]\n', "completion", None,
     "line 2 is a JSON array, not an object", 2),
    ("all_duplicates", "a.jsonl", _jsonl(*[{"instruction": "Hi?", "output": "Hello."}] * 5), "instruction", None,
     "all 5 usable rows are duplicates of one example", None),
    ("empty_strings", "a.csv", "instruction,output\nq1,\nq2,  \nq3,\n", "instruction", None,
     "column 'output' (output) is empty in every row", None),
    ("nulls", "a.jsonl", _jsonl({"text": None, "label": "a"}, {"text": None, "label": "b"}), "classification", None,
     "column 'text' (text) is null or missing in every row", None),
    ("one_class", "a.csv", "text,label\ngood,pos\ngreat,pos\nfine,pos\n", "classification", None,
     "only one label ('pos')", None),
    ("one_class_parquet", _parquet_one_class, None, "classification", None, "only one label ('pos')", None),
    ("unreadable_parquet", "a.parquet", b"PAR1 this is not really parquet PAR1", "completion", None,
     "cannot be read as Parquet", None),
    ("unsupported_extension", "a.xlsx", b"PK\x03\x04", "completion", None, "unsupported file type '.xlsx'", None),
    ("nested_object", "a.jsonl", _jsonl({"text": "fine"}, {"text": {"body": "nested"}}), "completion", None,
     "field 'text' holds a nested object, expected text", 2),
    ("nested_list", "a.json", json.dumps([{"text": "a", "label": ["x", "y"]}, {"text": "b", "label": "z"}]),
     "classification", None, "field 'label' holds a nested list", 1),
    ("json_not_list", "a.json", json.dumps({"data": [{"text": "a"}]}), "completion", None,
     "the top level is a JSON object (keys: data), not a list of records", None),
    ("json_scalar", "a.json", "42", "completion", None, "the top level is a JSON number", None),
    ("json_list_of_strings", "a.json", json.dumps([{"text": "a"}, "b"]), "completion", None,
     "record 2 is a JSON string, not an object", 2),
    ("json_empty_list", "a.json", "[]", "completion", None, "holds an empty list", None),
    ("json_syntax", "a.json", '[{"text": "a"},\n {"text": "b"\n]', "completion", None, "is not valid JSON", 3),
    ("json_that_is_jsonl", "a.json", _jsonl({"text": "a"}, {"text": "b"}), "completion", None,
     "rename it to .jsonl", 2),
    ("binary_junk", "a.csv", bytes(range(256)) * 4, "completion", None, "contains binary data (NUL bytes)", None),
    ("huge_field", "a.csv", "text\nshort\n" + "x" * 2_000_000 + "\n", "completion", None,
     "field 'text' is 2,000,000 characters long (limit 100,000)", 3),
    ("mixed_label_types_json", "a.jsonl", _jsonl({"text": "a", "label": 1}, {"text": "b", "label": "positive"}),
     "classification", None, "mixes numbers (e.g. 1 on row 1) and texts (e.g. 'positive' on row 2)", 2),
    ("mixed_label_types_csv", "a.csv", "text,label\na,0\nb,negative\nc,1\n", "classification", None,
     "label column 'label' mixes numbers", 3),
    ("ragged_csv_row", "a.csv", "instruction,output\nq1,a1\nq2,a2,extra, more\n", "instruction", None,
     "row has 4 values but the header has 2 columns", 3),
    ("duplicate_header", "a.csv", "text,text\na,b\n", "completion", None, "repeats the column name 'text'", 1),
    ("blank_header_name", "a.csv", "text,,label\na,b,c\n", "completion", None, "column 2 has no name", 1),
    ("mapped_column_missing", "a.csv", "question,answer\nq,a\n", "instruction", {"output": "reply"},
     "column 'reply' (mapped to output) not found; columns found: question, answer", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_error(tmp_path, case):
    _, name, content, task, mapping, expected, row = case
    path = name(tmp_path) if callable(name) else _write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        data.prepare(path, task, mapping)
    err = info.value
    msg = str(err)
    assert expected in msg, msg
    assert err.row == row, msg
    assert msg.startswith(str(path) + (f":{row}: " if row else ": ")), msg
    assert " — " in msg and err.fix, "the message must say how to fix it"
    assert "\n" not in msg, "one line"


def test_messages_are_distinct(tmp_path):
    seen = {}
    for case in CASES:
        cid, name, content, task, mapping, _, _ = case
        folder = tmp_path / cid
        folder.mkdir()
        path = name(folder) if callable(name) else _write(folder, name, content)
        with pytest.raises(DataError) as info:
            data.prepare(path, task, mapping)
        problem = info.value.problem
        seen.setdefault(problem, []).append(cid)
    shared = {p: ids for p, ids in seen.items() if len(ids) > 1 and ids != ["one_class", "one_class_parquet"]}
    assert not shared, shared


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.load_table(tmp_path / "nope.csv")
    (tmp_path / "inside.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(DataError, match=r"is a folder, not a data file — pass one file inside it \(data files in it: inside.jsonl\)"):
        data.load_table(tmp_path)


def test_strict_mode_names_the_row(tmp_path):
    path = _write(tmp_path, "a.csv", "instruction,output\nq1,a1\nq2,\nq3,a3\n")
    with pytest.raises(DataError) as info:
        data.prepare(path, "instruction", config=data.PrepConfig(strict=True))
    assert info.value.row == 3 and info.value.column == "output"
    # without strict the row is dropped and counted instead
    result = data.prepare(path, "instruction")
    assert result.report.rows_kept == 2 and result.report.dropped == {"empty_output": 1}


def test_bad_mapping_and_task_are_config_errors(tmp_path):
    path = _write(tmp_path, "a.csv", "question,answer\nq,a\n")
    with pytest.raises(ConfigError, match="not FIELD=COLUMN"):
        data.parse_mapping(["output"])
    with pytest.raises(ConfigError, match="'label' is not a field of the instruction task"):
        data.prepare(path, "instruction", {"label": "answer"})
    with pytest.raises(ConfigError, match="unknown task 'chat'"):
        data.prepare(path, "chat")


def test_bom_and_crlf_are_accepted(tmp_path):
    content = "\ufeffinstruction,output\r\n\"multi\r\nline q\",a1\r\nq2,\"a, with comma\"\r\n"
    path = _write(tmp_path, "a.csv", content.encode("utf-8"))
    table = data.load_table(path)
    assert table.columns == ["instruction", "output"]
    assert table.rows == [2, 4]  # a record's first line; the quoted line break spans lines 2-3
    result = data.prepare(table, "instruction")
    assert [r["instruction"] for r in result.rows] == ["multi\nline q", "q2"]
    assert result.rows[1]["output"] == "a, with comma"
    jl = _write(tmp_path, "b.jsonl", ("\ufeff" + _jsonl({"text": "a"}, {"text": "b"}).replace("\n", "\r\n")).encode())
    assert [r["text"] for r in data.prepare(jl, "completion").rows] == ["a", "b"]


def test_semicolon_csv_and_tsv(tmp_path):
    semi = _write(tmp_path, "a.csv", "text;label\ngood;pos\nbad;neg\n")
    assert data.prepare(semi, "classification").report.label_balance == {"pos": 1, "neg": 1}
    tsv = _write(tmp_path, "a.tsv", "text\tlabel\ngood\tpos\nbad\tneg\n")
    assert data.prepare(tsv, "classification").report.rows_kept == 2
