"""Packaging: pyproject and environment.yml agree, and CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    pip_section = re.findall(r"^\s+- (?!-e )([A-Za-z0-9_.\-\[\]]+[^\n]*)$",
                             (ROOT / "environment.yml").read_text().split("- pip:", 1)[1], flags=re.M)
    conda_pip = {_name(line) for line in pip_section}
    assert declared == conda_pip, f"only in pyproject: {declared - conda_pip}; only in environment.yml: " \
                                  f"{conda_pip - declared}"


def test_torch_has_a_floor_and_no_ceiling():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = [r for r in project["dependencies"] if _name(r) == "torch"]
    assert torch == ["torch>=2.4"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme.split("\n## ", 1)[0], "the README must open with the test command"
    assert "make course" in readme.split("\n## ", 1)[0], "the README must open with the course command"
    assert re.search(r"^make test$", ci, flags=re.M)
