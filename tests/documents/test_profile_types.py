"""A verdict's profile_diff: its TypedDicts (harness/documents/profile_types.py) against its JSON Schema
(schemas/verdict-profile.schema.json), property names and required keys, at every level."""

from __future__ import annotations

import typing

import pytest

from harness.documents import profile_types as types_
from harness.documents import verdict as verdictdoc

SCHEMA = verdictdoc.profile_schema()
DEFS = SCHEMA["$defs"]
PAIRS = [(types_.ProfileDiff, SCHEMA), (types_.StageProfile, DEFS["stage"]), (types_.SideSamples, DEFS["side"]),
         (types_.FunctionMove, DEFS["function"]),
         (types_.FoldedPaths, SCHEMA["properties"]["folded"]["oneOf"][1])]


@pytest.mark.parametrize("td, node", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_each_typed_dict_has_the_schema_objects_keys_all_required(td, node):
    keys = list(typing.get_type_hints(td))
    assert keys == list(node["properties"])
    assert sorted(node["required"]) == sorted(keys) and node["additionalProperties"] is False
