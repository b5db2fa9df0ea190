"""The suite's own guarantees: offline, network blocked in subprocesses, course errors shown briefly."""

import os
import socket
import subprocess
import sys

import pytest


def test_network_is_blocked_in_this_process():
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_network_is_blocked_in_child_processes():
    code = ("import socket\n"
            "try:\n    socket.create_connection(('1.1.1.1', 443), timeout=1)\n"
            "except OSError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    assert "blocked" in out.stdout


def test_loopback_stays_open():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_course_error_in_a_notebook_is_one_line(tmp_path):
    import nbformat

    from course_lib import runner

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('PROFILE = "auto"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("from course_lib import runtime\nruntime.setup('laptop')")]
    source = tmp_path / "bad.ipynb"
    nbformat.write(nb, source)
    run = runner.execute_notebook(source, tmp_path / "out.ipynb", profile="smoke")
    assert run.status == "failed" and "ConfigError" in run.error
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    shown = "".join(
        "".join(o.get("traceback", [])) + o.get("text", "") for o in executed.cells[-1].outputs)
    assert "unknown profile 'laptop'" in shown and "choose one of" in shown
    assert "Traceback" not in shown and "runtime.py" not in shown and "profiles.py" not in shown


def test_cli_prints_one_line_for_a_course_error():
    out = subprocess.run([sys.executable, "-m", "course_lib", "info", "--profile", "laptop"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: unknown profile 'laptop' — choose one of: auto, smoke, cpu, t4, a100"]


def test_claims_are_collected_and_kept_with_the_run_id(tmp_path):
    """run-course copies each notebook's claims.json into the run; --keep puts summary and claims in docs/."""
    from course_lib import runner

    outputs, run_dir, docs = tmp_path / "outputs", tmp_path / "runs" / "20261201-120000", tmp_path / "docs"
    (outputs / "03_training").mkdir(parents=True)
    (outputs / "03_training" / runner.CLAIMS_FILE).write_text('{"table": []}', encoding="utf-8")
    (outputs / "03_training" / "losses.json").write_text('{"table": [1]}', encoding="utf-8")
    (outputs / "05_overfitting").mkdir()  # a notebook without claims is skipped
    notebooks = [tmp_path / "03_training.ipynb", tmp_path / "05_overfitting.ipynb"]
    copied = runner.collect_claims(notebooks, outputs, run_dir / "claims")
    assert [p.name for p in copied] == ["03_training.json", "03_training_losses.json"]
    for suffix in ("md", "json"):
        (run_dir / f"summary.{suffix}").write_text("summary", encoding="utf-8")
    kept = runner.keep_in_docs(run_dir, docs)
    assert sorted(p.relative_to(docs).as_posix() for p in kept) == [
        "claims/20261201-120000_03_training.json", "claims/20261201-120000_03_training_losses.json",
        "timings/20261201-120000.json", "timings/20261201-120000.md"]
    assert (docs / "claims" / "20261201-120000_03_training.json").read_text(encoding="utf-8") == '{"table": []}'
    smoke = runner.keep_in_docs(run_dir, tmp_path / "smoke_docs", claims=False)  # a smoke run keeps its times only
    assert sorted(p.relative_to(tmp_path / "smoke_docs").as_posix() for p in smoke) == [
        "timings/20261201-120000.json", "timings/20261201-120000.md"]
