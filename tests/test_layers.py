"""The layers of harness/ (docs/design.md, "Architecture"): a module imports only from its own layer, the
layers below it, and the shared modules. The order, lowest first, is ``LAYERS``. Couplings an import
statement does not show count too: a module started as a process (``-m harness.X`` in an argv) is an
import of X; judge/ and output/ read files only through documents/; and only commands/ (and the top
entry point) parse a command line."""

from __future__ import annotations

import ast
import re
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


# ---- processes: ``python -m harness.X`` in an argv is an import of X ------------------------------------

# A full dotted harness name ("harness.run.worker", in an argv after "-m") or "-m harness.X" inside a longer
# string; docstrings are prose and left out.
_MODULE_NAME = re.compile(r"harness(?:\.\w+)+\.?")
_DASH_M = re.compile(r"(?:^|\s)-m\s+harness\.(\w+)")

# The one process that starts a higher layer: the in-session reference runs another commit's tree through
# `python -m harness.cli run ... --out`, the stable command line older commits keep (an import would load
# this commit's code instead of theirs).
STARTS_ABOVE = {"pairing/reference.py": {"cli"}}


def _started(path: Path) -> set[str]:
    """The harness packages and top modules ``path`` names as a module to start (second dotted part)."""
    tree, out = ast.parse(path.read_text()), set()
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if _MODULE_NAME.fullmatch(node.value):
                out.add(node.value.split(".")[1])
            out |= set(_DASH_M.findall(node.value))
    return out - {""}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HARNESS)))
def test_processes_started_follow_the_layers(path):
    rel = str(path.relative_to(HARNESS))
    wrong = _started(path) - _allowed(_layer(path)) - STARTS_ABOVE.get(rel, set())
    assert not wrong, f"{rel} ({_layer(path)}) starts a module of a higher layer as a process: {sorted(wrong)}"


def test_the_processes_started_above_still_are():
    for rel, names in STARTS_ABOVE.items():
        assert names <= _started(HARNESS / rel), f"{rel} no longer starts {sorted(names)}: drop its entry"


def test_the_check_catches_a_process_of_a_higher_layer(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text('import sys\nARGV = [sys.executable, "-m", "harness.pairing.gate", "--x"]\n')
    assert _started(bad) - _allowed("judge") == {"pairing"}
    bad.write_text('"""Prose: python -m harness.nightly.pairs"""\nCMD = "python -m harness.cli run --out x"\n')
    assert _started(bad) == {"cli"}


# ---- files: judge/ and output/ read what is on disk through documents/ ----------------------------------

READS_THROUGH_DOCUMENTS = ("judge", "output")
_READERS = {"open", "read_text", "read_bytes"}  # open(...), os.open, Path.open, .read_text(), .read_bytes()
_LOADERS = {"json", "tomllib", "tomli", "pickle"}  # json.load(f), tomllib.load(f), ...

# (module, function) -> why it reads a file itself.
READS_ALLOWED: dict[tuple[str, str], str] = {}  # (module, function): why it may read a file itself


def _reads(path: Path) -> set[tuple[str, str]]:
    """(function, call) of each file read in ``path``: a call of open, .open, .read_text, .read_bytes, or
    json/tomllib/pickle.load."""
    out = set()

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else where
            if isinstance(child, ast.Call) and _is_read(child.func):
                out.add((inner, ast.unparse(child.func)))
            visit(child, inner)

    visit(ast.parse(path.read_text()), "<module>")
    return out


def _is_read(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "open"
    return isinstance(func, ast.Attribute) and (
        func.attr in _READERS or (func.attr == "load" and isinstance(func.value, ast.Name) and func.value.id in _LOADERS))


@pytest.mark.parametrize("path", [p for p in MODULES if _layer(p) in READS_THROUGH_DOCUMENTS],
                         ids=lambda p: str(p.relative_to(HARNESS)))
def test_judge_and_output_read_files_through_documents(path):
    rel = str(path.relative_to(HARNESS))
    wrong = {(fn, call) for fn, call in _reads(path) if (rel, fn) not in READS_ALLOWED}
    assert not wrong, (f"{rel} reads files itself: {sorted(wrong)}; read them through a documents/ module "
                       f"(or add the function to READS_ALLOWED with the reason)")


def test_the_allowed_reads_still_exist():
    for rel, fn in READS_ALLOWED:
        assert any(f == fn for f, _ in _reads(HARNESS / rel)), f"{rel} {fn} reads no file now: drop its entry"


def test_the_check_catches_a_file_read(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("import json\nfrom pathlib import Path\n\ndef f(p):\n    return json.load(open(p))\n\n"
                   "def g(p):\n    return Path(p).read_text()\n\nclass C:\n    def h(self, p):\n"
                   "        with Path(p).open() as f:\n            return tomllib.load(f)\n")
    assert _reads(bad) == {("f", "json.load"), ("f", "open"), ("g", "Path(p).read_text"),
                           ("h", "Path(p).open"), ("h", "tomllib.load")}
    bad.write_text("import json\n\ndef f(text):\n    return json.loads(text)\n")  # parsing a string reads nothing
    assert _reads(bad) == set()


# ---- the command line: parsed in commands/ only ------------------------------------------------------

# A module below commands/ that is its own `python -m` entry point: nightly/pairs.py, which
# benchmarks/nightly_step_demo.py copies into older commits' trees and starts there.
PARSES_ARGV = {"nightly/pairs.py"}


def _parses_argv(path: Path) -> bool:
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) and
               any(a.name == "argparse" for a in node.names) or
               isinstance(node, ast.ImportFrom) and node.module == "argparse"
               for node in ast.walk(ast.parse(path.read_text())))


@pytest.mark.parametrize("path", [p for p in MODULES if _layer(p) not in ("commands", *TOP)],
                         ids=lambda p: str(p.relative_to(HARNESS)))
def test_only_commands_parse_the_command_line(path):
    """No layer below commands/ sees an argparse Namespace: commands/ builds each options dataclass (e.g.
    nightly/asv.py NightlyOptions) and passes that down."""
    rel = str(path.relative_to(HARNESS))
    assert rel in PARSES_ARGV or not _parses_argv(path), f"{rel} imports argparse: parse in commands/"


def test_the_argparse_exceptions_still_parse():
    assert all(_parses_argv(HARNESS / rel) for rel in PARSES_ARGV)


def test_the_check_catches_argparse_below_commands(tmp_path):
    bad = tmp_path / "m.py"
    for text in ("def f():\n    import argparse\n", "from argparse import Namespace\n"):
        bad.write_text(text)
        assert _parses_argv(bad)
    bad.write_text("import argparsex\n")
    assert not _parses_argv(bad)
