"""Every lesson notebook: stored clean, parametrised, and executed end to end in the smoke profile.

The execution uses the same function as ``make course`` (:func:`course_lib.runner.execute_notebook`), with the
network blocked inside the kernel (see conftest.py) and outputs written to a temporary folder.
"""

import json

import pytest

from course_lib import paths, runner

NOTEBOOKS = runner.course_notebooks()
IDS = [nb.stem for nb in NOTEBOOKS]

# Notebooks whose smoke run is far over the 90 s budget on 2 idle cores would be listed here: executed by
# `make test-all`, not by the default `make test`/CI. None is (measured 2026-11-24 on an idle machine: every notebook
# under 90 s; the 12-27 min measured on 2026-11-22 were two torch threads fighting other jobs for 2 cores). Do not
# add a notebook here without a measurement on an idle machine.
OVER_BUDGET: set[str] = set()
EXECUTION_CASES = [pytest.param(nb, marks=pytest.mark.heavy) if nb.stem in OVER_BUDGET else nb for nb in NOTEBOOKS]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no lesson notebooks found in notebooks/"
    assert NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_stored_clean_and_parametrised(path):
    nb = _load(path)
    assert nb["metadata"].get("kernelspec", {}).get("name"), f"{path.name}: no kernelspec"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"{path.name}: code cells {dirty} are stored with outputs or execution counts"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one code cell tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    assert 'PROFILE = "auto"' in source and "SEED = " in source, f"{path.name}: parameters need PROFILE and SEED"
    assert not any("import *" in "".join(c["source"]) for c in code), f"{path.name}: star import"


@pytest.fixture
def course_outputs(shared_tmp, monkeypatch):
    """One outputs folder for the notebooks of both test workers, as ``make course`` has: notebooks 04, 06, 07 and
    08 then reuse notebook 03's smoke adapter whichever worker trained it (each trained its own in ~15 s when the
    workers' folders were apart). Saves are atomic (``train.save_trained``): a reader finds a whole adapter or
    none, and trains its own."""
    folder = shared_tmp / "notebook_outputs"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv(paths.OUTPUT_ENV, str(folder))
    return folder


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXECUTION_CASES, ids=IDS)
def test_notebook_runs_in_smoke_profile(path, tmp_path, course_outputs):
    run = runner.execute_notebook(path, tmp_path / path.name, profile="smoke", cell_timeout=600)
    assert run.status == "ok", f"{path.name} failed after {run.seconds:.0f} s: {run.error}"
    executed = _load(tmp_path / path.name)
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # A figure must reach the reader as a picture: a bare "<Figure size ...>" text means no PNG was rendered.
    bare = [i for i, c in enumerate(executed["cells"]) for o in c.get("outputs", [])
            if "<Figure size" in "".join(o.get("data", {}).get("text/plain", "")) and "image/png" not in o["data"]]
    assert not bare, f"{path.name}: cells {bare} show a figure as text, not as a picture"
