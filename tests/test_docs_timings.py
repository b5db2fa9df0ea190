"""The time per notebook quoted in the README, the workshop guide and each notebook's **Time** line must be the
time a `make course` run measured.

The runs behind the numbers are kept in ``docs/timings/<run>.json`` (a copy of ``runs/<run>/summary.json``, with
the machine and package versions under ``stamp``). For each profile the newest run that holds a notebook gives
its time. A quoted number passes when it is that time rounded the way it is written ("27 s": to the second,
"8.8 min": to a tenth of a minute). A notebook that no kept run holds yet (a new lesson, before the lead's
idle-machine run) must say "not timed yet" in every place a time would go, and nothing else: no guessed number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "docs" / "timings"
# "15 s", "1.1 min", "0.4" (a column in minutes): a number, then an optional unit.
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min)?\b")
NOT_TIMED = "not timed yet"


def lesson_numbers() -> set[str]:
    """``{"00", "01", ...}``: the notebooks in notebooks/."""
    return {path.name[:2] for path in (ROOT / "notebooks").glob("0*.ipynb")}


def measured() -> dict[str, dict[str, float]]:
    """``{profile: {notebook number "03": seconds}}`` from the newest run holding each notebook."""
    times: dict[str, dict[str, float]] = {}
    for summary in sorted(TIMINGS.glob("*.json")):  # run ids are timestamps: sorted = oldest first
        for run in json.loads(summary.read_text(encoding="utf-8"))["runs"]:
            if run["status"] == "ok":
                times.setdefault(run["profile"], {})[run["notebook"][:2]] = float(run["seconds"])
    return times


def agrees(quoted: str, seconds: float, default_unit: str) -> bool:
    """Whether ``quoted`` (e.g. "27 s", "8.8 min", "0.4") is ``seconds`` rounded as written."""
    match = _QUANTITY.match(quoted.strip())
    assert match, f"no time in {quoted!r}"
    number, unit = match.group(1), match.group(2) or default_unit
    decimals = len(number.partition(".")[2])
    value = seconds / 60 if unit == "min" else seconds
    return abs(float(number) - value) <= 0.5 * 10 ** -decimals + 1e-9


def quotes_the_kept_time(quoted: str, times: dict[str, float], number: str, default_unit: str) -> bool:
    """A kept run holds notebook ``number``: ``quoted`` is its time. None does yet: ``quoted`` says so."""
    if number in times:
        return bool(_QUANTITY.match(quoted.strip())) and agrees(quoted, times[number], default_unit)
    return quoted.strip().startswith(NOT_TIMED)


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first Markdown table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def notebook_number(cell: str) -> str:
    found = re.search(r"\b(0\d) ·", cell)
    return found.group(1) if found else ""


@pytest.fixture(scope="module")
def times():
    found = measured()
    assert {"smoke", "cpu"} <= set(found), f"docs/timings holds no smoke or cpu run: {sorted(found)}"
    assert set(found["smoke"]) == set(found["cpu"]), "every kept notebook time needs both a smoke and a cpu run"
    assert {f"{n:02d}" for n in range(8)} <= set(found["smoke"]) <= lesson_numbers(), sorted(found["smoke"])
    return found


def test_workshop_table_matches_make_course_summaries(times):
    text = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    rows = table_rows(text, "| notebook | smoke (s) | cpu (min) |")
    checked = 0
    for cells in rows:
        number = notebook_number(cells[0])
        if number:
            assert quotes_the_kept_time(cells[1], times["smoke"], number, "s"), \
                f"workshop smoke time of {number}: {cells[1]}"
            assert quotes_the_kept_time(cells[2], times["cpu"], number, "min"), \
                f"workshop cpu time of {number}: {cells[2]}"
            if cells[3] != "—":  # t4: filled in only from a summary of a run on a T4, kept in docs/timings
                assert number in times.get("t4", {}), f"workshop t4 time of {number} has no t4 run in docs/timings"
                assert agrees(cells[3], times["t4"][number], "min"), f"workshop t4 time of {number}: {cells[3]}"
            checked += 1
        elif "whole course" in cells[0]:
            assert agrees(cells[1], sum(times["smoke"].values()), "s"), f"workshop smoke total: {cells[1]}"
            assert agrees(cells[2].strip("*"), sum(times["cpu"].values()), "min"), f"workshop cpu total: {cells[2]}"
    assert checked == len(lesson_numbers())
    for run in {path.stem for path in TIMINGS.glob("*.json")}:
        assert run in text, f"docs/workshop.md does not name the run {run} its times come from"


def test_readme_table_matches_make_course_summaries(times):
    rows = table_rows((ROOT / "README.md").read_text(encoding="utf-8"), "| notebook | you learn | smoke | cpu |")
    assert len(rows) == len(lesson_numbers())
    for cells in rows:
        number = notebook_number(cells[0])
        assert quotes_the_kept_time(cells[2], times["smoke"], number, "s"), f"README smoke time of {number}: {cells[2]}"
        assert quotes_the_kept_time(cells[3], times["cpu"], number, "min"), f"README cpu time of {number}: {cells[3]}"


def test_each_notebook_time_line_matches_make_course_summaries(times):
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        line = next((ln for cell in cells if cell["cell_type"] == "markdown"
                     for ln in "".join(cell["source"]).splitlines() if ln.startswith("**Time**")), None)
        assert line, f"{path.name} has no **Time** line"
        for profile in ("smoke", "cpu"):
            quoted = re.search(rf"\b{profile} (\d[^·(]*|{NOT_TIMED})", line)
            assert quoted, f"{path.name}: no {profile} time in its **Time** line"
            assert quotes_the_kept_time(quoted.group(1), times[profile], path.name[:2], "s"), \
                f"{path.name}: {profile} {quoted.group(1).strip()} is not the measured time"


def test_a_notebook_without_a_kept_run_must_say_so():
    kept = {"03": 162.0}
    assert quotes_the_kept_time("not timed yet", kept, "08", "s")
    assert not quotes_the_kept_time("85 s", kept, "08", "s"), "a time no kept run measured"
    assert not quotes_the_kept_time("not timed yet", kept, "03", "s"), "a kept time must be quoted"


def test_agrees_rounds_as_written():
    assert agrees("27 s", 26.8, "s") and not agrees("27 s", 27.6, "s")
    assert agrees("8.8 min", 526.3, "s") and not agrees("8.8 min", 534.0, "s")  # 8.77 min; 8.9 min
    assert agrees("0.4", 26.8, "min") and agrees("244 (4.1 min)", 243.9, "s")
