"""benchmarks/isolated.py: each variant of a benchmark in a fresh process, rows back in order."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture()
def isolated(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import isolated

    return isolated


def child_script(tmp_path: Path) -> Path:
    """A benchmark whose variant "skip" does not apply, "fail" exits 3, and any other reports its process id."""
    script = tmp_path / "bench.py"
    script.write_text(textwrap.dedent(f"""
        import argparse, os, sys
        sys.path.insert(0, {str(BENCHMARKS)!r})
        from isolated import add_variant_options, run_one_variant

        def row_of(name):
            if name == "fail":
                raise SystemExit(3)
            return None if name == "skip" else {{"variant": name, "pid": os.getpid()}}

        parser = argparse.ArgumentParser()
        add_variant_options(parser)
        assert run_one_variant(parser.parse_args(), row_of)
    """), encoding="utf-8")
    return script


def test_each_variant_runs_in_its_own_process_and_rows_come_back_in_order(isolated, tmp_path):
    rows = isolated.rows_from_fresh_processes(str(child_script(tmp_path)), ["b", "skip", "a"])
    assert [row["variant"] for row in rows] == ["b", "a"]  # "skip" wrote no row
    pids = {row["pid"] for row in rows}
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_failing_variant_stops_the_benchmark_with_its_name(isolated, tmp_path):
    with pytest.raises(SystemExit, match="variant 'fail' failed \\(exit status 3\\)"):
        isolated.rows_from_fresh_processes(str(child_script(tmp_path)), ["a", "fail"])


def test_the_parent_process_is_not_a_variant(isolated):
    import argparse

    parser = argparse.ArgumentParser()
    isolated.add_variant_options(parser)
    assert isolated.run_one_variant(parser.parse_args([]), lambda name: {"variant": name}) is False
