"""Sizes (docs/design.md, "Architecture"; shared/style.md): no harness module over MAX_MODULE_LINES physical
lines and no function over MAX_FUNCTION_LINES, counted from its ``def`` line to its last line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
MODULES = sorted(HARNESS.rglob("*.py"))
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _functions(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function and method in ``path``, nested ones too."""
    out = []

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out.append((name, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text()), "")
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_no_module_is_too_long(path):
    n = _module_lines(path)
    assert n <= MAX_MODULE_LINES, f"{path.relative_to(HARNESS)}: {n} lines (at most {MAX_MODULE_LINES}): split it"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_no_function_is_too_long(path):
    long = [(name, n) for name, n in _functions(path) if n > MAX_FUNCTION_LINES]
    assert not long, f"{path.relative_to(HARNESS)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checks_count_what_they_say(tmp_path):
    src = tmp_path / "m.py"
    body = "\n".join(f"        x{i} = {i}" for i in range(60))
    src.write_text(f"class C:\n    @property\n    def f(self):\n{body}\n        return 1\n\n\ndef g():\n"
                   f"    def inner():\n        pass\n    return inner\n")
    assert _functions(src) == [("C.f", 62), ("g", 4), ("g.inner", 2)]  # the def line and every body line
    assert _module_lines(src) == 70
