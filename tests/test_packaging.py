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


def _lowest_bounds_script():
    import importlib.util
    spec = importlib.util.spec_from_file_location("lowest_bounds", ROOT / ".ci" / "lowest_bounds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_test_min_pins_every_drifting_library_to_the_declared_bound(capsys):
    script = _lowest_bounds_script()
    assert script.main([str(ROOT / "pyproject.toml")]) == 0
    pins = dict(line.split("==") for line in capsys.readouterr().out.split())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r): r.split(">=", 1)[1] for r in project["dependencies"] if ">=" in r}
    assert set(pins) == set(script.DRIFTING)
    assert all(pins[name] == declared[name] for name in pins), (pins, declared)


def test_lowest_bounds_names_a_missing_bound(tmp_path, capsys):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["transformers", "peft>=0.17"]\n')
    assert _lowest_bounds_script().main([str(pyproject)]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "transformers" in message and "[project] dependencies" in message
