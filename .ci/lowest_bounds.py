"""Print pip constraints that pin each drifting dependency to the lower bound pyproject.toml declares.

`make test-min` installs the course against these constraints in a second virtual environment, so that every
">=" bound of the libraries whose APIs drift fastest is a version the tests have passed with, not a guess.
Usage: python .ci/lowest_bounds.py [pyproject.toml] > constraints.txt
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

# The libraries whose training APIs move between releases (renamed TrainingArguments fields, SFTTrainer arguments
# moved to SFTConfig, ...). torch is left out on purpose: the second venv reuses the torch the Makefile installs.
DRIFTING = ("transformers", "peft", "datasets", "accelerate", "trl", "sentence-transformers")
_BOUND = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*$")


def lower_bounds(pyproject_text: str) -> dict[str, str]:
    """``{package: lowest version}`` for every ``name>=version`` entry of [project] dependencies."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: tomllib arrived in 3.11
        sys.exit("error: .ci/lowest_bounds.py needs Python 3.11 or newer (tomllib); run it with python3.11")
    dependencies = tomllib.loads(pyproject_text)["project"]["dependencies"]
    bounds = {}
    for spec in dependencies:
        match = _BOUND.match(spec)
        if match:
            bounds[match.group(1).lower()] = match.group(2)
    return bounds


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "pyproject.toml")
    if not path.is_file():
        print(f"error: {path} not found — run from the repository root or pass the path to pyproject.toml",
              file=sys.stderr)
        return 2
    bounds = lower_bounds(path.read_text(encoding="utf-8"))
    missing = [name for name in DRIFTING if name not in bounds]
    if missing:
        print(f"error: {path} declares no '>=' bound for {', '.join(missing)} — add one to [project] dependencies",
              file=sys.stderr)
        return 2
    for name in DRIFTING:
        print(f"{name}=={bounds[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
