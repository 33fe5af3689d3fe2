"""harness.dotted.flatten: the one flattener of nested dicts to dotted keys."""

from __future__ import annotations

from harness import config
from harness.dotted import flatten

NESTED = {"a": 1, "b": {"c": 2, "d": {"e": None}, "empty": {}}, "f": [1, {"g": 3}]}


def test_flatten_writes_dotted_keys_and_leaves_lists_alone():
    assert flatten(NESTED) == {"a": 1, "b.c": 2, "b.d.e": None, "f": [1, {"g": 3}]}
    assert flatten({"x": {"y": 1}}, prefix="run.") == {"run.x.y": 1}


def test_flatten_keeps_an_empty_dict_only_when_asked():
    assert flatten(NESTED, keep_empty=True) == {"a": 1, "b.c": 2, "b.d.e": None, "b.empty": {}, "f": [1, {"g": 3}]}
    assert flatten({"empty": {}}) == {} and flatten({"empty": {}}, keep_empty=True) == {"empty": {}}


def test_config_flattens_with_the_one_flatten():
    assert config.flatten is flatten  # harness.config reads profiles through it
    assert flatten({"train": {"epochs": 1, "lr": 0.1}, "seed": 3}) == {"train.epochs": 1, "train.lr": 0.1, "seed": 3}
