"""Time `python -m course_lib check-data` on 10,000-row files, start-up included (issue target: under 3 s).

    python benchmarks/check_data_speed.py [--rows 10000] [--repeats 3] [--json benchmarks/results/check_data.json]

Two files are written to a temporary folder, both with the raw export's columns:
* ``distinct``: 10,000 different tickets, each a new combination of sentences from different rows of
  ``data/support/support_clean.jsonl`` (question parts from three rows, the answer of a fourth, a ticket number),
  so the near-duplicate pass has real work and finds few pairs;
* ``repeated``: the shipped raw export repeated until it has 10,000 rows (mostly exact duplicates).
Each file is checked ``--repeats`` times in a fresh process; wall time is what a user waits, CPU time (user +
system of the child) is what the machine spent, which matters when it is shared.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def write_distinct(path: Path, rows: int, seed: int = 0) -> None:
    records = [json.loads(line) for line in (REPO / "data/support/support_clean.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket_id", "customer_question", "agent_reply"])
        for i in range(rows):
            parts = [rng.choice(_sentences(rng.choice(records)["instruction"]) or ["Hello."]) for _ in range(3)]
            writer.writerow([f"T{i:06d}", f"Ticket {i}: " + " ".join(parts), rng.choice(records)["output"]])


def write_repeated(path: Path, rows: int) -> None:
    with (REPO / "data/support/support_raw_export.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            writer.writerow(body[i % len(body)])


def time_check(path: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "course_lib", "check-data", str(path), "--task", "instruction",
                          "--json"], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"check-data failed on {path}: {out.stderr.strip()}")
    report = json.loads(out.stdout)
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "rows_read": report["rows_read"], "rows_kept": report["rows_kept"],
            "duplicates_removed": report["duplicates_removed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
               "load_average_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"distinct": Path(tmp) / "distinct.csv", "repeated": Path(tmp) / "repeated.csv"}
        write_distinct(files["distinct"], args.rows)
        write_repeated(files["repeated"], args.rows)
        for name, path in files.items():
            runs = [time_check(path) for _ in range(args.repeats)]
            walls = [r["wall_s"] for r in runs]
            results[name] = {"rows_read": runs[0]["rows_read"], "rows_kept": runs[0]["rows_kept"],
                             "duplicates_removed": runs[0]["duplicates_removed"],
                             "wall_s_best": round(min(walls), 2), "wall_s_median": round(statistics.median(walls), 2),
                             "cpu_s_median": round(statistics.median(r["cpu_s"] for r in runs), 2)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
