"""Your own data end to end: a helpdesk CSV with other column names, a UTF-8 byte-order mark and CRLF line ends,
through ``check-data`` -> ``train`` -> ``evaluate`` -> ``retrain`` (each with ``--map``) and notebook 03.

Bad ``--map`` input and a file whose columns are not detected get one ``error:`` line naming an option the command
has (the hint of every data command is checked against its own ``--help``).
"""

from __future__ import annotations

import csv
import json
import re

import pytest

from course_lib import cli, data, paths, runner

# The export's column for each course field: none of them is a common name, so every command needs --map.
MAPPING = {"instruction": "ticket_text", "input": "account", "output": "resolution"}
MAP_ARGS = [arg for fld, col in MAPPING.items() for arg in ("--map", f"{fld}={col}")]
DATA_COMMANDS = ["check-data", "train", "evaluate", "retrain"]


def write_helpdesk_csv(path, records, category: bool = True) -> None:
    """``records`` (course fields) as a helpdesk export would write them: its own column names, keywords joined by
    ';', a UTF-8 byte-order mark (Excel's "CSV UTF-8") and CRLF line ends; ``category=False``: no category column."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        header = ["ticket_id", "category", MAPPING["instruction"], MAPPING["input"], MAPPING["output"], "keywords"]
        writer.writerow([name for name in header if category or name != "category"])
        for r in records:
            row = [r["id"], r["category"], r["instruction"], r.get("input") or "", r["output"],
                   ";".join(r.get("keywords") or [])]
            writer.writerow([value for name, value in zip(header, row) if category or name != "category"])


@pytest.fixture(scope="module")
def support_records():
    return data.load_jsonl(paths.data_path("support", "support_clean.jsonl"))


@pytest.fixture
def helpdesk_csv(tmp_path, support_records):
    path = tmp_path / "helpdesk export.csv"
    write_helpdesk_csv(path, support_records[:60])
    return path


def test_fixture_has_a_bom_crlf_and_reads_back_through_the_mapping(helpdesk_csv, support_records):
    raw = helpdesk_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    records = data.load_table(helpdesk_csv)
    assert records.columns[0] == "ticket_id"  # the BOM is not part of the first column's name
    from course_lib import train

    read = train.read_records(helpdesk_csv, MAPPING)
    assert [(r["instruction"], r["input"], r["output"]) for r in read] == [
        (r["instruction"], r["input"], r["output"]) for r in support_records[:60]]


def _command_args(command: str, csv_path, tmp_path) -> list[str]:
    """The arguments of ``command`` reading ``csv_path``, without --map. retrain's base is a folder with an adapter
    config: enough to reach the data, which is read before any model is loaded."""
    if command == "check-data":
        return [command, str(csv_path), "--task", "instruction"]
    if command == "retrain":
        (tmp_path / "base" / "adapter").mkdir(parents=True, exist_ok=True)
        (tmp_path / "base" / "adapter" / "adapter_config.json").write_text("{}")
        return [command, "--base", str(tmp_path / "base"), "--new", str(csv_path), "--old", str(csv_path),
                "--out", str(tmp_path / "runs"), "--profile", "smoke"]
    return [command, "--data", str(csv_path), "--out", str(tmp_path / "out"), "--profile", "smoke"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _options_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_undetected_columns_hint_an_option_the_command_has(command, helpdesk_csv, tmp_path, capsys):
    assert cli.main(_command_args(command, helpdesk_csv, tmp_path)) == 2
    line = _one_error_line(capsys)
    assert "no column for the required field 'instruction'" in line and "--map instruction=COLUMN" in line, line
    hinted = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))
    usage = _options_of(command, capsys)
    missing = [option for option in hinted if not re.search(rf"(?<![\w-]){option}(?![\w-])", usage)]
    assert hinted and not missing, f"`{command}` hints {missing}, which its --help does not list"


@pytest.mark.parametrize("command", DATA_COMMANDS)
@pytest.mark.parametrize("maps, expected", [
    (["--map", "answer=resolution"], "'answer' is not a field of the instruction task — use one of: instruction"),
    (["--map", "output=reply_text"], "column 'reply_text' (mapped to output) not found; columns found: ticket_id"),
    (["--map", "output"], "--map 'output' is not FIELD=COLUMN — write it like --map output=agent_reply"),
    (["--map", "output="], "--map 'output=' is not FIELD=COLUMN"),
    (["--map", "=resolution"], "--map '=resolution' is not FIELD=COLUMN"),
    (["--map", "output=resolution", "--map", "output=account"], "--map maps 'output' twice"),
])
def test_bad_map_gets_one_sentence(command, maps, expected, helpdesk_csv, tmp_path, capsys):
    good = [arg for fld, col in MAPPING.items() if fld != "output" for arg in ("--map", f"{fld}={col}")]
    assert cli.main([*_command_args(command, helpdesk_csv, tmp_path), *good, *maps]) == 2
    line = _one_error_line(capsys)
    assert expected in line and " — " in line, line
    if "column" in expected and "FIELD" not in expected:
        assert line.startswith(f"error: {helpdesk_csv}")  # where: the file


@pytest.mark.slow
def test_helpdesk_csv_through_check_data_train_evaluate_and_retrain(tmp_path, support_records, capsys):
    """The whole command line on an own export: 2 smoke training steps, 4 scored answers, 1 retraining step."""
    train_csv, test_csv, new_csv = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "new.csv"
    write_helpdesk_csv(train_csv, support_records[:60])
    write_helpdesk_csv(test_csv, support_records[60:68])
    write_helpdesk_csv(new_csv, data.load_jsonl(paths.data_path("support", "support_new_batch.jsonl"))[:24])

    assert cli.main(["check-data", str(train_csv), "--task", "instruction", *MAP_ARGS, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["columns"] == MAPPING and report["rows_read"] == 60

    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(train_csv), *MAP_ARGS, "--profile", "smoke", "--out", str(run),
                     "--max-steps", "2", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 2 and (run / "adapter" / "adapter_config.json").exists()

    scored = tmp_path / "eval"
    assert cli.main(["evaluate", "--data", str(test_csv), *MAP_ARGS, "--model", str(run / "adapter"), "--zero-shot",
                     "--out", str(scored), "--profile", "smoke", "--limit", "4", "--quiet"]) == 0
    results = json.loads((scored / "results.json").read_text())["results"]
    assert [r["name"] for r in results] == ["zero-shot", "run/adapter"]
    for result in results:  # the keywords column (';'-separated) was read: keyword match is a number
        assert result["metrics"]["n"] == 4 and 0 <= result["metrics"]["keyword_match"] <= 1
        assert [e["reference"] for e in result["examples"]] == [r["output"] for r in support_records[60:64]]
    capsys.readouterr()

    runs = tmp_path / "runs"
    assert cli.main(["retrain", "--base", str(run), "--new", str(new_csv), "--old", str(train_csv), *MAP_ARGS,
                     "--out", str(runs), "--profile", "smoke", "--max-steps", "1", "--quiet"]) == 0
    assert "forgetting" in capsys.readouterr().out
    run_info = json.loads((runs / "v002" / "run.json").read_text())
    assert run_info["train_data"] == [str(train_csv.resolve()), str(new_csv.resolve())]


@pytest.mark.notebook("03_training")
def test_notebook_03_runs_on_a_helpdesk_csv(tmp_path, support_records, monkeypatch):
    """Notebook 03 in smoke with DATA_PATH and COLUMNS on an own export (every shipped ticket but the first 10, so
    the split sizes it prints show which file it read) that has no category column, as most exports: the triage
    section, which predicts categories, says so and is skipped, and the rest of the notebook runs. Outputs go to a
    folder of their own, so notebook 04's test does not reuse models trained on this file. Full fine-tuning and the
    sentiment section (which reads the shipped reviews, not DATA_PATH) are left out: the plain notebook test runs
    them, and triage."""
    path = tmp_path / "helpdesk.csv"
    write_helpdesk_csv(path, support_records[10:], category=False)
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path / "outputs"))
    notebook = paths.NOTEBOOK_DIR / "03_training.ipynb"
    executed = tmp_path / notebook.name
    run = runner.execute_notebook(notebook, executed, profile="smoke", cell_timeout=600,
                                  parameters={"DATA_PATH": str(path), "COLUMNS": MAPPING, "RUN_FULL": False,
                                              "RUN_SENTIMENT": False})
    assert run.status == "ok", f"{notebook.name} failed on {path.name} after {run.seconds:.0f} s: {run.error}"
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    printed = "".join("".join(o["text"]) for c in cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    sizes = re.search(r"\{'train': (\d+), 'validation': (\d+), 'test': (\d+)\}", printed)
    assert sizes and sum(map(int, sizes.groups())) == len(support_records) - 10, printed[:500]
    assert "Triage skipped: not every record has a 'category'" in printed, printed[-1500:]
    # The check cell ran to its end and kept the claims of the sections that ran: the support task's two.
    claims = (tmp_path / "outputs" / "03_training" / "claims.csv").read_text(encoding="utf-8").splitlines()
    assert len(claims) == 3 and all("support keyword match" in line for line in claims[1:]), claims
