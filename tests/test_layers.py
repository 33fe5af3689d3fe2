"""The layers of harness/ (docs/design.md, "Architecture"): a module imports only from its own layer, the
layers below it, and the shared modules. The order, lowest first, is ``LAYERS``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
LAYERS = ("measure", "documents", "pipeline", "judge", "output", "run", "envs", "pairing", "nightly", "commands")
SHARED = ("__init__", "errors", "config", "clock", "dotted", "vcs")  # below every layer; they import only each other
TOP = ("cli",)  # the entry point: may import anything


def _layer(path: Path) -> str:
    parts = path.relative_to(HARNESS).parts
    return parts[0] if len(parts) > 1 else path.stem


def _imported(path: Path) -> set[str]:
    """The harness packages and top modules ``path`` imports (second dotted part), at any depth."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (the harness imports absolutely)")
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            names = ([f"harness.{a.name}" for a in node.names] if node.module == "harness" else [node.module])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "harness"]
        out |= {n.split(".")[1] for n in names if "." in n}
    return out


PACKAGE_NAMES = {"REPO_DIR", "__version__"}  # harness/__init__.py's names


def _allowed(layer: str) -> set[str]:
    if layer in TOP:
        return set(LAYERS) | set(SHARED) | set(TOP) | PACKAGE_NAMES
    if layer in SHARED:
        return set(SHARED) | PACKAGE_NAMES
    return set(LAYERS[: LAYERS.index(layer) + 1]) | set(SHARED) | PACKAGE_NAMES


MODULES = sorted(HARNESS.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    assert {_layer(p) for p in MODULES} <= set(LAYERS) | set(SHARED) | set(TOP)
    assert {p.name for p in HARNESS.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_imports_follow_the_layers(path):
    layer = _layer(path)
    wrong = _imported(path) - _allowed(layer)
    assert not wrong, f"{path.relative_to(HARNESS)} ({layer}) imports from a higher layer: {sorted(wrong)}"


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from harness.run import runner\n")
    assert _imported(bad) - _allowed("judge") == {"run"}
    bad.write_text("from harness import gate\n")
    assert _imported(bad) == {"gate"}
