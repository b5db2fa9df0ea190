"""``python -m course_lib``: every sub-command's handler resolves to a function of the module it names, and the
parser stays light (building it imports no torch)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from course_lib import cli

# sub-command -> (module, function) its handler in cli.py imports and calls; None: the handler lives in cli.py.
DELEGATED = {
    "train": ("course_lib.train", "run_train"),
    "retrain": ("course_lib.continual", "run_retrain"),
    "check-data": ("course_lib.data", "run_check_data"),
    "fit": ("course_lib.fit", "run_fit"),
    "info": None,
    "prepare-models": None,
    "run-course": None,
    "evaluate": None,
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_listed_here():
    assert set(_subparsers()) == set(DELEGATED)


@pytest.mark.parametrize("command", sorted(DELEGATED))
def test_handler_is_a_function_of_cli(command):
    func = _subparsers()[command].get_default("func")
    assert callable(func), command
    assert func.__module__ == "course_lib.cli" and getattr(cli, func.__name__) is func, func


@pytest.mark.parametrize("command", sorted(c for c, target in DELEGATED.items() if target))
def test_handler_calls_its_module(command, monkeypatch):
    module_name, func_name = DELEGATED[command]
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func_name)), f"{module_name}.{func_name} is gone"
    calls = []
    monkeypatch.setattr(module, func_name, lambda args: calls.append(args) or 7)
    args = argparse.Namespace(command=command)
    assert _subparsers()[command].get_default("func")(args) == 7
    assert calls == [args]


def test_help_imports_no_torch():
    code = ("import sys; from course_lib import cli; cli.build_parser().format_help(); "
            "assert 'torch' not in sys.modules, 'building the parser imported torch'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
