"""course_lib's layering (docs/architecture.md): imports only go down, and no module imports itself in a circle.

The layers are the import-linter contract in pyproject.toml; ``lint-imports`` checks it (in a child process, from
the repository root, so the checkout's own course_lib is the one analysed). The cycle test reads the source files
itself, so it names the cycle even when someone loosens the contract. Both count imports inside functions: a
deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "course_lib"

# lint_imports returns the exit status; --no-cache keeps the checkout free of an .import_linter_cache folder.
_LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def test_layers_contract_is_kept():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _LINT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"lint-imports failed (see docs/architecture.md):\n{done.stdout}\n{done.stderr}"
    assert "0 broken" in done.stdout


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, path: Path, node: ast.AST, known: set[str]) -> set[str]:
    """course_lib modules that one import statement of ``module`` names (``from . import a, b`` names both)."""
    if isinstance(node, ast.ImportFrom):
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [target] + [f"{target}.{alias.name}" for alias in node.names]
    else:
        names = [alias.name for alias in node.names]
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: course_lib modules it imports anywhere in its source}``; the package face itself is left out."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(module, path, node, set(files))
        graph[module] = edges - {"course_lib"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle_and_its_absence():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_course_lib_has_no_import_cycle():
    graph = import_graph()
    assert {"course_lib.runtime", "course_lib.train", "course_lib.cli"} <= set(graph)  # the walk found the package
    assert "course_lib.notebook" in graph["course_lib.runtime.session"]  # and sees imports inside functions
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle) + " (move the shared code down a layer)"
