"""The one version check (harness/documents/versions.py) on a synthetic format with two upgrade steps,
and that each kind of document the harness reads goes through it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.documents import baseline, record, steps_ledger, sweep, versions
from harness.errors import EXIT_ERROR, HarnessError


def _to_2(doc: dict) -> dict:
    doc["steps"] = [*doc.get("steps", []), "1->2"]
    doc["size_bytes"] = doc.pop("size")  # version 2 renamed the field
    doc["format_version"] = 2
    return doc


def _to_3(doc: dict) -> dict:
    doc["steps"] = [*doc["steps"], "2->3"]
    doc["unit"] = "bytes"  # version 3 added it
    doc["format_version"] = 3
    return doc


WIDGET = versions.Format("widget file", "t4rec-bench/widget", 3, upgrades={1: _to_2, 2: _to_3},
                         older_hint="rewrite it", newer_hint="or delete it")


def _refused(doc, fmt=WIDGET, where="w.json") -> HarnessError:
    with pytest.raises(HarnessError) as info:
        versions.read(doc, fmt, where)
    assert info.value.exit_code == EXIT_ERROR
    return info.value


def test_current_version_is_read_as_it_is():
    doc = {**WIDGET.stamp(), "size_bytes": 7, "unit": "bytes"}
    assert versions.read(doc, WIDGET) == doc
    assert WIDGET.stamp() == {"format_version": 3, "kind": "t4rec-bench/widget"}


def test_older_version_is_upgraded_in_order():
    doc = {"format_version": 1, "kind": "t4rec-bench/widget", "size": 7}
    assert versions.read(doc, WIDGET) == {"format_version": 3, "kind": "t4rec-bench/widget", "size_bytes": 7,
                                          "unit": "bytes", "steps": ["1->2", "2->3"]}
    two = {"format_version": 2, "kind": "t4rec-bench/widget", "size_bytes": 7, "steps": []}
    assert versions.read(two, WIDGET)["steps"] == ["2->3"]


def test_input_is_not_mutated():
    doc = {"format_version": 1, "kind": "t4rec-bench/widget", "size": 7, "nested": {"a": [1]}}
    before = copy.deepcopy(doc)
    out = versions.read(doc, WIDGET)
    assert doc == before and out is not doc
    current = {**WIDGET.stamp(), "size_bytes": 7}
    assert versions.read(current, WIDGET) is not current


def test_newer_version_is_refused_naming_the_document_and_both_versions():
    message = str(_refused({"format_version": 4, "kind": "t4rec-bench/widget"}))
    assert message == ("w.json: widget file format_version 4 is newer than this harness reads (3); "
                       "upgrade t4rec-bench, or delete it")


def test_older_version_without_an_upgrade_path_is_refused():
    message = str(_refused({"format_version": 0, "kind": "t4rec-bench/widget"}))
    assert message == "w.json: widget file format_version 0 has no upgrade to 3 (this harness reads 3); rewrite it"
    bare = versions.Format("gadget file", None, 2)  # no upgrades at all
    message = str(_refused({"format_version": 1}, bare, where=""))
    assert message == "gadget file format_version 1 has no upgrade to 2 (this harness reads 2)"


@pytest.mark.parametrize("version", [None, "3", 3.0, True])
def test_missing_or_non_integer_version_is_refused(version):
    doc = {"kind": "t4rec-bench/widget"} if version is None else {"kind": "t4rec-bench/widget",
                                                                  "format_version": version}
    message = str(_refused(doc))
    assert message == f"w.json: widget file has format_version {version!r}, this harness reads 3; rewrite it"


def test_wrong_kind_is_refused():
    message = str(_refused({"format_version": 3, "kind": "t4rec-bench/gadget"}))
    assert message == "w.json: not a t4rec-bench widget file (kind is not 't4rec-bench/widget')"
    older = str(_refused({"format_version": 1, "kind": "t4rec-bench/gadget", "size": 1}))
    assert older == message  # refused before any upgrade runs
    assert str(_refused({"format_version": 3})) == message  # a tagged kind's documents carry the tag


@pytest.mark.parametrize("doc", [[1, 2], "text", 3, None])
def test_non_object_is_refused(doc):
    assert str(_refused(doc)) == "w.json: widget file is not a JSON object"


def test_an_upgrade_that_does_not_advance_the_version_is_a_bug():
    broken = versions.Format("widget file", None, 2, upgrades={1: lambda doc: doc})
    with pytest.raises(AssertionError, match="must set format_version to 2"):
        versions.read({"format_version": 1}, broken)


def test_another_version_key_is_honoured():
    env = versions.Format("cache metadata", "t4rec-bench-env", 1, key="version")
    assert env.stamp() == {"version": 1, "kind": "t4rec-bench-env"}
    assert versions.read({"version": 1, "kind": "t4rec-bench-env"}, env)["version"] == 1
    assert "cache metadata version 2 is newer" in str(_refused({"version": 2, "kind": "t4rec-bench-env"}, env))
    assert versions.version_of({"version": 5}, env) == 5 and versions.version_of([1], env) is None


# ---- each loader goes through versions.read --------------------------------------------------------

def _json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _verdict(doc: dict, tmp: Path) -> None:
    from harness.judge.verdict import Verdict

    Verdict.from_dict(doc)  # from memory: the message names no file


def _policy(doc: dict, tmp: Path) -> None:
    from harness.judge import policy

    path = tmp / "p.toml"
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in doc.items()))
    policy.load(path)


def _formats() -> dict:
    from harness.documents import verdict
    from harness.judge import policy

    return {"run record": record.FORMAT, "baseline": baseline.FORMAT, "verdict": verdict.FORMAT,
            "policy file": policy.FORMAT, "steps ledger": steps_ledger.FORMAT, "sweep file": sweep.FORMAT}


LOADERS = {  # each kind of document the harness reads back, read the way the harness reads it
    "run record": lambda doc, tmp: record.load(_json(tmp / "r.json", doc)),
    "baseline": lambda doc, tmp: baseline.load(_json(tmp / "ci.json", doc)),
    "verdict": _verdict,
    "policy file": _policy,
    "steps ledger": lambda doc, tmp: steps_ledger.load(_json(tmp / "s.json", doc)),
    "sweep file": lambda doc, tmp: sweep.load(_json(tmp / "w.json", doc)),
}


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_each_loader_refuses_a_newer_version_with_the_one_message(tmp_path, kind):
    fmt = _formats()[kind]
    doc = {fmt.key: fmt.current + 1, **({"kind": fmt.kind} if fmt.kind else {})}
    with pytest.raises(HarnessError) as info:
        LOADERS[kind](doc, tmp_path)
    written = list(tmp_path.iterdir())  # the file the loader read, if any: the message names it
    assert info.value.exit_code == EXIT_ERROR
    assert str(info.value) == str(_refused(doc, fmt, str(written[0]) if written else ""))
