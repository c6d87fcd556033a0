"""The core package stays sans-IO: no module under killswitch/ imports anything that
does I/O, reads a clock, draws randomness or runs concurrently (issue 2, SPEC.md).

Every import statement counts, including ones inside functions and
``importlib.import_module("...")`` / ``__import__("...")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import killswitch

FORBIDDEN = frozenset(
    {
        "simpy",
        "hypothesis",
        "matplotlib",
        "socket",
        "asyncio",
        "random",
        "time",
        "threading",
        "subprocess",
        "urllib",
        "http",
    }
)

PACKAGE = Path(killswitch.__file__).resolve().parent


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """Every absolute module name ``tree`` imports, with its line number."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value, node.lineno))
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(source: str, filename: str) -> list[str]:
    """``file:line imports X`` for every forbidden import in ``source``."""
    tree = ast.parse(source, filename=filename)
    return [
        f"{filename}:{line} imports {name}"
        for name, line in sorted(imported_modules(tree), key=lambda found: found[1])
        if name.split(".")[0] in FORBIDDEN
    ]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_modules_are_found() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in MODULES}
    assert {"listener.py", "states.py", "profiles/v1.py", "profiles/seed.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_core_module_imports_nothing_that_does_io(path: Path) -> None:
    found = violations(path.read_text(encoding="utf-8"), str(path))
    assert not found, "sans-IO core imports forbidden modules:\n" + "\n".join(found)


def test_the_checker_sees_every_kind_of_import() -> None:
    source = (
        "import os\n"
        "import time\n"
        "from urllib.parse import quote\n"
        "from . import random\n"  # relative: the package's own module, not the stdlib one
        "def f():\n"
        "    import asyncio.tasks\n"
        "    import importlib\n"
        "    importlib.import_module('socket')\n"
        "    return __import__('threading')\n"
    )
    assert violations(source, "x.py") == [
        "x.py:2 imports time",
        "x.py:3 imports urllib.parse",
        "x.py:6 imports asyncio.tasks",
        "x.py:8 imports socket",
        "x.py:9 imports threading",
    ]
