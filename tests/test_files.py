"""course_lib.files: atomic writes leave either the old version or the new one, and no temporary sibling."""

from __future__ import annotations

import json
import os

import pytest

from course_lib import files


def test_staging_path_is_a_hidden_sibling_named_after_the_process(tmp_path):
    assert files.staging_path(tmp_path / "metrics.json") == tmp_path / f".metrics.json.tmp-{os.getpid()}"


def test_text_and_json_replace_the_old_file_and_leave_no_sibling(tmp_path):
    path = tmp_path / "new" / "metrics.json"  # the folder is created
    files.write_text_atomic(path, "old\r\n")
    assert path.read_bytes() == b"old\r\n"  # written as given, no newline translation
    files.write_json_atomic(path, {"loss": 0.5, "where": tmp_path})
    assert json.loads(path.read_text(encoding="utf-8")) == {"loss": 0.5, "where": str(tmp_path)}  # default=str
    assert path.read_text(encoding="utf-8").startswith('{\n  "loss"')  # indent=2
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    files.write_text_atomic(path, "old")
    with pytest.raises(TypeError):
        files.write_json_atomic(path, {"x": object()}, default=None)  # not serialisable: fails before writing
    with pytest.raises(UnicodeEncodeError):
        files.write_text_atomic(path, "half \udc80")  # fails while writing the temporary file
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_replace_folder_swaps_in_the_complete_folder(tmp_path):
    target = tmp_path / "adapter"
    (target / "old.bin").parent.mkdir()
    (target / "old.bin").write_text("old")
    staging = files.staging_path(target)
    staging.mkdir()
    (staging / "new.bin").write_text("new")
    assert files.replace_folder(staging, target) == target
    assert [p.name for p in target.iterdir()] == ["new.bin"] and not staging.exists()
