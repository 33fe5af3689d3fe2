"""The run record's TypedDicts (harness/documents/record_types.py) against its JSON Schema, both ways,
and the one record builder (record.build)."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import pytest

from harness.documents import record, record_types
from harness.errors import FAILURE_KINDS

SCHEMA = record.schema()
DATA = Path(__file__).resolve().parents[1] / "data" / "report"


def _resolve(pointer: str) -> tuple[str, dict]:
    node = SCHEMA
    for part in pointer.lstrip("#/").split("/") if pointer != "#" else []:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return pointer, node


def _object_node(pointer: str, node: dict) -> tuple[str, dict]:
    """The object schema at ``pointer``: through a $ref, or the object branch of a oneOf."""
    if "$ref" in node:
        return _object_node(*_resolve(node["$ref"]))
    for i, branch in enumerate(node.get("oneOf", ())):
        if branch.get("type") == "object":
            return f"{pointer}/oneOf/{i}", branch
    return pointer, node


def _strip_none(hint):
    """The type inside ``X | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _strip(hint):
    """The type inside ``X | None`` and ``list[X]``."""
    hint = _strip_none(hint)
    return typing.get_args(hint)[0] if typing.get_origin(hint) is list else hint


def _pairs(td, pointer: str = "#", seen: dict | None = None) -> dict:
    """{schema pointer: TypedDict} for ``td`` and every TypedDict reachable from its fields."""
    seen = {} if seen is None else seen
    seen[pointer] = td
    node = _resolve(pointer)[1]
    for name, hint in typing.get_type_hints(td).items():
        inner = _strip(hint)
        if typing.is_typeddict(inner) and name in node.get("properties", {}):
            child = f"{pointer}/properties/{name}"
            if typing.get_origin(_strip_none(hint)) is list:
                child += "/items"
            _pairs(inner, _object_node(*_resolve(child))[0], seen)
    return seen


PAIRS = _pairs(record_types.RunRecord)


def _schema_objects(node, pointer: str = "#"):
    """Pointer of every object schema that names its properties."""
    if isinstance(node, dict):
        if "properties" in node:
            yield pointer
        for key, value in node.items():
            yield from _schema_objects(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schema_objects(value, f"{pointer}/{i}")


def test_every_schema_object_has_a_typeddict_and_every_typeddict_a_schema_object():
    assert set(PAIRS) == set(_schema_objects(SCHEMA))
    declared = {v for v in vars(record_types).values() if typing.is_typeddict(v)}
    assert set(PAIRS.values()) == declared


@pytest.mark.parametrize("pointer", sorted(PAIRS))
def test_property_names_and_required_keys_agree(pointer):
    td, node = PAIRS[pointer], _resolve(pointer)[1]
    assert set(typing.get_type_hints(td)) == set(node["properties"]), td.__name__
    assert td.__required_keys__ == set(node.get("required", ())), td.__name__


def _literal_fields():
    for pointer, td in PAIRS.items():
        for name, hint in typing.get_type_hints(td).items():
            inner = _strip(hint)
            if typing.get_origin(inner) is typing.Literal:
                yield pointer, name, typing.get_args(inner)


@pytest.mark.parametrize("pointer, name, values", list(_literal_fields()))
def test_literal_types_match_the_schemas_enums(pointer, name, values):
    prop = _resolve(pointer)[1]["properties"][name]
    assert set(values) == set(prop["enum"] if "enum" in prop else [prop["const"]])


def test_failure_kinds_are_the_errors_modules():
    assert typing.get_args(record_types.FailureKind) == FAILURE_KINDS


def _fields(rec: dict) -> dict:
    """The builder's arguments that give back ``rec`` (a one-repetition record)."""
    return {k: v for k, v in rec.items() if k not in ("schema_version", "kind", "status", "repeat")}


def test_the_builder_writes_a_committed_runner_record_byte_for_byte():
    """A record the runner wrote before the builder existed, rebuilt from its fields: same JSON, same order."""
    path = sorted((DATA / "history").glob("*.json"))[0]
    old = record.load(path)
    assert old["repeat"] == 1 and old["status"] == "ok"
    built = record.build(**_fields(old))
    assert json.dumps(built) == json.dumps(old)
    record.validate(built)


def test_a_built_record_validates_and_follows_the_typeddicts_order():
    m = [record.measurement("etl.wall_s", 1.5), record.measurement("quality.ndcg_at_20", 0.2)]
    env = json.loads((DATA / "current.json").read_text())["environment"]
    rec = record.build(run_id="r1", profile="smoke", started_at="2024-05-01T12:00:00+00:00",
                       finished_at="2024-05-01T12:01:00+00:00", command="t4rec-bench run", config={},
                       config_hash="c" * 16, workload_hash="w" * 16, environment=env,
                       stages=[record.stage("etl", "failed", 0.5, 0.0)], measurements=m, days=[], fingerprints={},
                       failure={"stage": "etl", "kind": "crash", "message": "worker died"}, gpu=None)
    record.validate(rec)
    assert rec["status"] == "failed" and rec["repeat"] == 1 and rec["faults"] == {} and rec["instrumented"] is True
    assert list(rec) == [k for k in record_types.RunRecord.__annotations__ if k in rec]
    assert "checkpoint" not in rec and "scale" not in rec and rec["gpu"] is None
    with pytest.raises(TypeError, match="mystery"):
        record.build(**_fields(rec), mystery=1)
    with pytest.raises(TypeError):
        record.build(**_fields(rec), repeat=2)  # fixed by the builder
