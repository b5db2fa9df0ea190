"""Run each variant of a benchmark in a fresh Python process, so that its peak RSS is its own.

A process's resident set keeps what earlier variants left behind (freed tensors the allocator did not return, a
previous model's weights), so the peak RSS of the third variant measured in one process includes parts of the
first two. A benchmark script adds the two hidden options with :func:`add_variant_options`;
:func:`run_one_variant` answers them in the child process (train that one variant, write its result row as JSON),
and the parent hands its variant names to :func:`rows_from_fresh_processes`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def peak_memory_fields(result) -> dict:
    """A training result's peak memory as row fields: ``peak_memory_mb`` (MiB) and ``memory_kind``."""
    return {"peak_memory_mb": round(result.peak_memory_bytes / 2**20, 1), "memory_kind": result.memory_kind}


def add_variant_options(parser) -> None:
    """The hidden ``--variant NAME --row-out FILE`` options a child process is started with."""
    import argparse

    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--row-out", default=None, help=argparse.SUPPRESS)


def run_one_variant(args, row_of) -> bool:
    """In a child process (``args.variant`` set): write ``row_of(args.variant)`` to ``args.row_out`` (nothing when it
    returns ``None``: the variant does not apply here) and return True; in the parent return False."""
    if not args.variant:
        return False
    row = row_of(args.variant)
    if row is not None:
        Path(args.row_out).write_text(json.dumps(row), encoding="utf-8")
    return True


def rows_from_fresh_processes(script: str, names, extra_args=()) -> list[dict]:
    """Run ``python script --variant NAME --row-out FILE [extra_args]`` once per name; return the rows written,
    in order. A variant whose process fails stops the benchmark with its exit status."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, name in enumerate(names):
            row_file = Path(folder) / f"row{i}.json"
            command = [sys.executable, script, "--variant", name, "--row-out", str(row_file), *extra_args]
            finished = subprocess.run(command, check=False)
            if finished.returncode != 0:
                raise SystemExit(f"variant {name!r} failed (exit status {finished.returncode})")
            if row_file.exists():  # a variant may decline to run here (e.g. bf16 weights on an fp32 CPU)
                rows.append(json.loads(row_file.read_text(encoding="utf-8")))
    return rows
