"""Every pointer in the harness, its .toml files, the benchmarks, the Makefile, README.md and docs/
resolves: a path (``docs/usage.md``, ``harness/pairing/gate.py``, or inside harness/ ``judge/stats.py``)
to a file of this repository, a ``file.py::name`` to a name that file defines, and a section
(``docs/usage.md, "Profiles"``, ``README "Exit codes"``) to a heading of that document (a ``#``
heading or a paragraph's bold lead)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from test_layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted({*ROOT.glob("harness/**/*.py"), *ROOT.glob("harness/*.toml"), *ROOT.glob("benchmarks/*.py"),
                  ROOT / "Makefile", ROOT / "README.md", *ROOT.glob("docs/*.md")})
TOP = ("docs", "harness", "benchmarks", "tests")  # a path starting with one of these is this repository's
# Files of older commits, named as such: benchmarks/_shared.py's harness_module finds modules under them.
OLDER_LAYOUT = {"harness/runner.py", "harness/stages/etl.py"}

PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*\w\.(?:md|py|toml|json|sh|j2))(?![\w*<{])" % "|".join(TOP))
IN_HARNESS = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*\w\.(?:py|json|j2))(?![\w*<{])" % "|".join(LAYERS))
DEFINITION = re.compile(r"(?<![\w./-])([\w./-]*\w\.py)::(\w+(?:\.\w+)*)")
SECTION = re.compile(r"(?<![\w./-])(README(?:\.md)?|docs/[\w-]+\.md)[,:]?\s*\(?([\"'])([^\"'\n]{2,120}?)\2")


def flat(text: str) -> str:
    """``text`` with line breaks (and the comment marks or string quotes that continue a line) as
    single spaces, so that a pointer broken over two lines reads as one."""
    text = re.sub(r"\"\s*\n\s*f?\"", "", text)  # adjacent string literals
    return re.sub(r"[ \t]*\n[ \t]*(?:#+|//)?[ \t]*", " ", text)


def pointers(text: str) -> list[tuple[str, str, str | None]]:
    """(kind, target, detail) of each pointer in ``text``: ("path", path, None), ("definition", file, name),
    ("section", document, heading)."""
    text = flat(text)
    out = [("path", m.group(1), None) for m in PATH.finditer(text)]
    out += [("path", f"harness/{m.group(1)}", None) for m in IN_HARNESS.finditer(text)]  # judge/stats.py
    out += [("definition", m.group(1), m.group(2)) for m in DEFINITION.finditer(text)]
    out += [("section", m.group(1), m.group(3)) for m in SECTION.finditer(text)]
    return out


def headings(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = {m.group(1).strip() for m in re.finditer(r"(?m)^#+\s+(.+?)\s*#*$", text)}
    return found | {m.group(1).rstrip(".:") for m in re.finditer(r"(?m)^\*\*(.+?)\*\*", text)}


def defined(path: Path, name: str) -> bool:
    """Whether ``path`` defines ``name`` (``Class.method`` for a nested one) at module level."""
    scope = ast.parse(path.read_text(encoding="utf-8")).body
    for part in name.split("."):
        nodes = [n for n in scope if _names(n) and part in _names(n)]
        if not nodes:
            return False
        scope = getattr(nodes[0], "body", [])
    return True


def _names(node) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {t.id for t in targets if isinstance(t, ast.Name)}
    return set()


def _files(target: str) -> list[Path]:
    """The repository's files a pointer's path names: itself under the root, or every file of that
    name when it is a bare file name (``gate.py``) or a path inside harness/ (``judge/history.py``)."""
    if (ROOT / target).is_file():
        return [ROOT / target]
    if target.split("/")[0] in TOP:
        return []
    return [p for top in TOP for p in (ROOT / top).rglob(Path(target).name) if p.as_posix().endswith(target)]


def problem(kind: str, target: str, detail: str | None) -> str | None:
    """What is wrong with one pointer; None when it resolves."""
    if kind == "path":
        return None if (ROOT / target).is_file() or target in OLDER_LAYOUT else f"{target}: no such file"
    if kind == "definition":
        files = _files(target)
        if not files:
            return f"{target}::{detail}: no file {target}"
        return None if any(defined(f, detail) for f in files) else f"{target}::{detail}: {target} defines no {detail}"
    document = ROOT / ("README.md" if target.startswith("README") else target)
    if not document.is_file():
        return f"{target}, {detail!r}: no such document"
    found = headings(document)
    if detail in found or any(h.startswith(detail + " (") for h in found):
        return None
    return f"{target}, {detail!r}: no such heading"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_pointer_resolves(source):
    wrong = [problem(*p) for p in pointers(source.read_text(encoding="utf-8"))]
    wrong = sorted({w for w in wrong if w})
    assert not wrong, f"{source.relative_to(ROOT)}: " + "; ".join(wrong)


def test_the_check_finds_each_kind_of_pointer_and_catches_a_broken_one():
    text = ('see docs/usage.md, "Profiles" and (README, "Exit codes"); harness/judge/stats.py::change_pct,\n'
            '# decide.py::stop_reason, decide.py::no_such_rule, docs/nowhere.md, docs/usage.md, "No such\n# heading", '
            "harness/judge/stats.py::nothing_here, README 'Verdicts', judge/nothing.py")
    found = pointers(text)
    assert ("section", "docs/usage.md", "No such heading") in found  # broken over two comment lines
    assert ("definition", "decide.py", "stop_reason") in found  # a bare file name: found under harness/
    assert sorted(filter(None, (problem(*p) for p in found))) == [
        "decide.py::no_such_rule: decide.py defines no no_such_rule",
        "docs/nowhere.md: no such file",
        "docs/usage.md, 'No such heading': no such heading",
        "harness/judge/nothing.py: no such file",
        "harness/judge/stats.py::nothing_here: harness/judge/stats.py defines no nothing_here",
    ]


def test_a_heading_with_a_parenthetical_is_named_without_it():
    assert problem("section", "docs/measurements.md", "Less noise per pair") is None
    assert problem("section", "docs/usage.md", "The reference environment") is None  # a bold lead
    assert problem("section", "docs/usage.md", "Profile") == "docs/usage.md, 'Profile': no such heading"
