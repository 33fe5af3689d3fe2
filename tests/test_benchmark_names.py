"""Every harness name a benchmarks/ script uses still exists.

The scripts run by hand (their commands are in docs/measurements.md), most of them never under the tests,
so a function moved or renamed in harness/ would break one silently. This reads each script's imports
from harness and every ``name.attribute`` on them (ast), and looks each one up.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def _bound(tree: ast.AST) -> dict[str, str]:
    """{local name: dotted harness path} of the script's harness imports (anywhere in the file)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "harness":
            out.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            out.update({a.asname: a.name for a in node.names if a.asname and a.name.split(".")[0] == "harness"})
    return out


def _resolve(dotted: str):
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        parent, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(parent), name)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_harness_name_a_script_uses_exists(path):
    tree = ast.parse(path.read_text())
    bound = _bound(tree)
    uses = {(bound[n.value.id], n.attr, n.lineno) for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in bound}
    missing = [f"{path.name}:{line}: {target}.{attr}" for target, attr, line in sorted(uses)
               if not hasattr(_resolve(target), attr)]
    assert not missing, "names the script uses that harness no longer has: " + "; ".join(missing)


def test_the_check_finds_a_moved_name(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("from harness.pairing import reference\nreference._together([])\nreference.run_argv\n")
    with pytest.raises(AssertionError, match=r"old.py:2: harness.pairing.reference._together"):
        test_every_harness_name_a_script_uses_exists(script)
