"""The time per notebook quoted in the README, the workshop guide and each notebook's **Time** line must be the
time a `make course` run measured.

The runs behind the numbers are kept in ``docs/timings/<run>.json`` (a copy of ``runs/<run>/summary.json``, with
the machine and package versions under ``stamp``). For each profile the newest run that holds a notebook gives
its time; cpu runs on a CPU without native bf16 (``stamp.precision`` fp32) form a column of their own,
``cpu-fp32``, quoted as "fp32-only" (the same budgets train 2-3 times slower there). A quoted number passes when
it is that time rounded the way it is written ("27 s": to the second, "8.8 min": to a tenth of a minute). A
notebook that no kept run holds yet (a new one, before the lead's next `make course`) must say "not timed yet" in
each place instead of a number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_lib import runner

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "docs" / "timings"
# "15 s", "1.1 min", "0.4" (a column in minutes): a number, then an optional unit.
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min)?\b")
NOT_TIMED = "not timed yet"
NOTEBOOKS = runner.course_notebooks()  # the lessons make course runs, in order
NUMBERS = {path.name[:2] for path in NOTEBOOKS}


FP32_CPU = runner.FP32_CPU_COLUMN  # the column of cpu runs on CPUs without native bf16


def measured() -> dict[str, dict[str, float]]:
    """``{column: {notebook number "03": seconds}}`` from the newest kept run holding each notebook."""
    return {column: {stem[:2]: seconds for stem, seconds in times.items()}
            for column, times in runner.kept_seconds().items()}


def agrees(quoted: str, seconds: float, default_unit: str) -> bool:
    """Whether ``quoted`` (e.g. "27 s", "8.8 min", "0.4") is ``seconds`` rounded as written."""
    match = _QUANTITY.match(quoted.strip())
    assert match, f"no time in {quoted!r}"
    number, unit = match.group(1), match.group(2) or default_unit
    decimals = len(number.partition(".")[2])
    value = seconds / 60 if unit == "min" else seconds
    return abs(float(number) - value) <= 0.5 * 10 ** -decimals + 1e-9


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


def check_quoted(quoted: str, times: dict, profile: str, number: str, unit: str, where: str) -> None:
    """``quoted`` is the kept ``profile`` time of notebook ``number``, or "not timed yet" when no run holds it."""
    if number in times.get(profile, {}):
        assert agrees(quoted, times[profile][number], unit), f"{where}: {profile} time of {number}: {quoted}"
    else:
        assert quoted.strip() == NOT_TIMED, f"{where}: notebook {number} has no kept {profile} run: write " \
            f"{NOT_TIMED!r}, not {quoted!r}"


def notebook_number(cell: str) -> str:
    found = re.search(r"\b(\d\d) ·", cell)  # "03 ·", "11 ·": every lesson number has two digits
    return found.group(1) if found else ""


@pytest.fixture(scope="module")
def times():
    found = measured()
    assert {"smoke", "cpu"} <= set(found), f"docs/timings holds no smoke or cpu run: {sorted(found)}"
    assert set(found["smoke"]) == set(found["cpu"]) <= NUMBERS, (sorted(found["smoke"]), sorted(found["cpu"]))
    assert {f"{n:02d}" for n in range(8)} <= set(found["smoke"]), "the eight lessons 00-07 have kept times"
    return found


def test_workshop_table_matches_make_course_summaries(times):
    text = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    rows = table_rows(text, "| notebook | smoke (s) | cpu (min) | cpu, fp32-only (min) |")
    checked = 0
    for cells in rows:
        number = notebook_number(cells[0])
        if number:
            check_quoted(cells[1], times, "smoke", number, "s", "workshop")
            check_quoted(cells[2], times, "cpu", number, "min", "workshop")
            check_quoted(cells[3], times, FP32_CPU, number, "min", "workshop")
            if cells[4] != "—":  # t4: filled in only from a summary of a run on a T4, kept in docs/timings
                assert number in times.get("t4", {}), f"workshop t4 time of {number} has no t4 run in docs/timings"
                assert agrees(cells[4], times["t4"][number], "min"), f"workshop t4 time of {number}: {cells[4]}"
            checked += 1
        elif "whole course" in cells[0]:
            assert agrees(cells[1], sum(times["smoke"].values()), "s"), f"workshop smoke total: {cells[1]}"
            assert agrees(cells[2].strip("*"), sum(times["cpu"].values()), "min"), f"workshop cpu total: {cells[2]}"
            assert agrees(cells[3].strip("*"), sum(times[FP32_CPU].values()), "min"), \
                f"workshop fp32-only cpu total: {cells[3]}"
    assert checked == len(NOTEBOOKS)
    for run in {path.stem for path in TIMINGS.glob("*.json")}:
        assert run in text, f"docs/workshop.md does not name the run {run} its times come from"


def test_readme_table_matches_make_course_summaries(times):
    rows = table_rows((ROOT / "README.md").read_text(encoding="utf-8"), "| notebook | you learn | smoke | cpu |")
    assert sorted(notebook_number(cells[0]) for cells in rows) == sorted(NUMBERS)
    for cells in rows:
        number = notebook_number(cells[0])
        check_quoted(cells[2], times, "smoke", number, "s", "README")
        check_quoted(cells[3], times, "cpu", number, "min", "README")


def test_readme_hardware_table_quotes_the_kept_cpu_totals(times):
    """The laptop row's whole-course times: the newest bf16 and fp32-only cpu times of every notebook, added up."""
    rows = table_rows((ROOT / "README.md").read_text(encoding="utf-8"), "| machine | profile | whole course")
    laptop = next(cells for cells in rows if cells[1] == "`cpu`")
    for name in ("cpu", FP32_CPU):
        assert set(times[name]) == NUMBERS, f"no kept {name} time for {sorted(NUMBERS - set(times[name]))}"
        total = f"{sum(times[name].values()) / 60:.1f} min"
        assert total in laptop[2], f"README hardware table: the {name} whole course took {total}: {laptop[2]}"


def test_each_notebook_time_line_matches_make_course_summaries(times):
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        line = next((ln for cell in cells if cell["cell_type"] == "markdown"
                     for ln in "".join(cell["source"]).splitlines() if ln.startswith("**Time**")), None)
        assert line, f"{path.name} has no **Time** line"
        for profile, label in (("smoke", "smoke"), ("cpu", "cpu"), (FP32_CPU, "fp32-only cpu")):
            # "cpu 8.4 min" must not be read out of "fp32-only cpu 22.6 min"
            quoted = re.search(rf"(?<!fp32-only )\b{label} (\d[^·(]*|{NOT_TIMED})", line)
            assert quoted, f"{path.name}: no {label} time (or {NOT_TIMED!r}) in its **Time** line"
            check_quoted(quoted.group(1), times, profile, path.name[:2], "s", path.name)


def test_an_untimed_notebook_must_say_so():
    times = {"smoke": {"00": 15.0}}
    check_quoted("15 s", times, "smoke", "00", "s", "README")
    check_quoted(NOT_TIMED, times, "smoke", "09", "s", "README")
    for wrong in (("12 s", "09"), (NOT_TIMED, "00")):  # a number without a run; "not timed" beside a kept run
        with pytest.raises(AssertionError):
            check_quoted(wrong[0], times, "smoke", wrong[1], "s", "README")


def test_cpu_runs_in_fp32_get_their_own_column():
    column = runner.timing_column
    assert column("cpu", "fp32") == FP32_CPU
    assert column("cpu", "bf16") == "cpu" and column("smoke", "fp32") == "smoke" and column("cpu", None) == "cpu"


def test_agrees_rounds_as_written():
    assert agrees("27 s", 26.8, "s") and not agrees("27 s", 27.6, "s")
    assert agrees("8.8 min", 526.3, "s") and not agrees("8.8 min", 534.0, "s")  # 8.77 min; 8.9 min
    assert agrees("0.4", 26.8, "min") and agrees("244 (4.1 min)", 243.9, "s")
