"""The Colab install cell of every notebook, exercised with a faked ``google.colab`` module.

Colab cannot be reached from the test suite, so the cell's own source is executed twice in this process:
once with ``sys.modules["google.colab"]`` faked and ``subprocess.run`` replaced by a recorder (it must clone the
course and install it the way the Makefile/README does, keeping Colab's torch), and once without the fake (it
must run nothing at all). Nothing is cloned or installed: the recorder only writes the commands down.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from course_lib import runner, runtime

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = runner.course_notebooks()
IDS = [nb.stem for nb in NOTEBOOKS]
GUARD = '"google.colab" in sys.modules'
FORBIDDEN_PIP_FLAGS = {"-U", "--upgrade", "--force-reinstall", "--upgrade-strategy", "--ignore-installed", "-I"}


def _model_packages() -> list[str]:
    """The offline model packages as the Makefile installs them (the README's `make` commands run it)."""
    match = re.search(r"^MODEL_PACKAGES\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert match, "Makefile: no MODEL_PACKAGES line to compare the Colab cell with"
    return match.group(1).split()


def _install_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [("".join(c["source"]), i) for i, c in enumerate(cells) if c["cell_type"] == "code"
             and GUARD in "".join(c["source"])]
    assert len(found) == 1, f"{path.name}: expected exactly one Colab install cell (guarded by {GUARD}), " \
                            f"found {len(found)}"
    source, index = found[0]
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    assert index == first_code, f"{path.name}: the Colab install cell must be the first code cell"
    return source


def _run_cell(source: str, monkeypatch, colab: bool) -> list[list[str]]:
    """Execute ``source`` as a notebook would, recording every ``subprocess.run`` command instead of running it."""
    calls: list[list[str]] = []

    def fake_run(cmd, *args, **kwargs):
        calls.append([str(part) for part in cmd])
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell may insert the clone; undone after the test
    if colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab install cell>", "exec"), {"__name__": "__main__"})
    return calls


def _pip_installs(calls: list[list[str]]) -> list[list[str]]:
    """The argument lists after ``pip install`` of every pip call (run as ``<python> -m pip install ...``)."""
    installs = []
    for cmd in calls:
        if "pip" in cmd:
            at = cmd.index("pip")
            assert cmd[at - 1] == "-m" and cmd[0] == sys.executable, \
                f"pip must run as `sys.executable -m pip` (the kernel's own Python), got {cmd}"
            assert cmd[at + 1] == "install", cmd
            installs.append(cmd[at + 2:])
    return installs


def test_there_are_notebooks_to_check():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_colab_cell_clones_and_installs_like_the_readme(path, monkeypatch):
    calls = _run_cell(_install_cell(path), monkeypatch, colab=True)
    assert calls, f"{path.name}: with google.colab present the install cell ran no command"

    clones = [c for c in calls if c[:2] == ["git", "clone"]]
    assert len(clones) == 1, f"{path.name}: expected one git clone, got {calls}"
    clone = clones[0]
    url, target = clone[-2], clone[-1]
    assert url.startswith("https://github.com/"), f"{path.name}: clone URL {url!r} is not an https GitHub URL"
    assert calls.index(clone) == 0, f"{path.name}: the clone must come before the installs"

    installs = _pip_installs(calls)
    assert len(installs) == 2, f"{path.name}: expected two pip installs (course, models), got {installs}"
    course, models = installs
    # The course: editable install of the fresh clone, as `make` does with `pip install -e .` in the checkout.
    assert "-e" in course and course[course.index("-e") + 1] == target, \
        f"{path.name}: the course must be installed with `-e {target}` (the clone), got {course}"
    # The models: the Makefile's MODEL_PACKAGES, with --no-deps so their (absent) dependencies change nothing.
    assert "--no-deps" in models, f"{path.name}: model packages must be installed with --no-deps, got {models}"
    names = [a for a in models if not a.startswith("-")]
    assert names == _model_packages(), f"{path.name}: model packages {names} differ from the Makefile's"

    # Colab's preinstalled CUDA torch must survive: never named, never upgraded or reinstalled.
    for args in installs:
        assert not any(re.match(r"torch\b", a) for a in args), f"{path.name}: the cell installs torch: {args}"
        bad = FORBIDDEN_PIP_FLAGS.intersection(args)
        assert not bad, f"{path.name}: {sorted(bad)} could replace Colab's torch: {args}"

    # After the cell, `import course_lib` must find the clone even before the kernel restarts.
    assert sys.path[0] == target, f"{path.name}: the clone {target} is not put first on sys.path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_open_in_colab_badge_points_at_this_notebook(path, monkeypatch):
    """The title cell carries an "Open in Colab" badge that opens this very notebook from the clone URL's repo."""
    title = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    links = re.findall(r"\[!\[Open In Colab\]\((\S+)\)\]\((\S+)\)", title)
    assert len(links) == 1, f"{path.name}: the first cell needs one '[![Open In Colab](...)](...)' badge"
    image, target = links[0]
    assert image == "https://colab.research.google.com/assets/colab-badge.svg", f"{path.name}: badge image {image}"
    clone_url = next(c for c in _run_cell(_install_cell(path), monkeypatch, colab=True)
                     if c[:2] == ["git", "clone"])[-2]
    repo = clone_url.removeprefix("https://github.com/").removesuffix(".git")
    expected = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}"
    assert target == expected, f"{path.name}: badge opens {target}, expected {expected}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_colab_cell_does_nothing_elsewhere(path, monkeypatch):
    before = list(sys.path)
    calls = _run_cell(_install_cell(path), monkeypatch, colab=False)
    assert calls == [], f"{path.name}: outside Colab the install cell ran {calls}"
    assert sys.path == before, f"{path.name}: outside Colab the install cell changed sys.path"


def test_all_notebooks_share_one_install_cell():
    """One install recipe: a fix to it must reach every notebook, so the cells are identical."""
    sources = {path.name: _install_cell(path).strip() for path in NOTEBOOKS}
    distinct = set(sources.values())
    assert len(distinct) == 1, "the Colab install cells differ: " + ", ".join(
        f"{name}" for name, src in sources.items() if src != sources[NOTEBOOKS[0].name])


def test_colab_t4_gets_the_t4_profile(monkeypatch):
    # conftest sets COURSE_PROFILE=smoke for the suite; on Colab it is unset, so "auto" looks at the GPU.
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    profile = runtime.resolve_profile("auto", (7, 5))  # Colab free tier: Tesla T4, compute capability 7.5
    assert profile.name == "t4"
    monkeypatch.delenv("COURSE_PRECISION", raising=False)
    precision = runtime.choose_precision("cuda", (7, 5), requested=profile.precision)
    assert precision == "fp16", f"a T4 has no bf16 hardware: the t4 profile must train in fp16, got {precision}"
    assert runtime.resolve_profile("auto", (8, 0)).name == "a100"
    assert runtime.resolve_profile("auto", None).name == "cpu"
