"""The policy file's version check (harness/judge/policy.py through harness/documents/versions.py)."""

from __future__ import annotations

import copy

import pytest

from harness.errors import EXIT_ERROR, HarnessError
from harness.judge import policy


def _doc(**top) -> dict:
    kinds = ("time", "throughput", "memory", "metric", "loss", "count")
    rule = {"metric": "exact-or-seed-spread", "loss": "exact-or-seed-spread", "count": "exact"}
    return {"format_version": policy.FORMAT_VERSION, "defaults": {},
            "policy": [{"kind": k, "rule": rule.get(k, "significance")} for k in kinds], **top}


def _refused(doc) -> str:
    with pytest.raises(HarnessError) as info:
        policy.parse(doc, "p.toml")
    assert info.value.exit_code == EXIT_ERROR
    return str(info.value)


def test_the_current_version_is_read_and_the_input_left_alone():
    doc = _doc()
    before = copy.deepcopy(doc)
    assert len(policy.parse(doc, "p.toml").policies) == 6
    assert doc == before


def test_a_newer_policy_file_says_upgrade():
    message = _refused(_doc(format_version=policy.FORMAT_VERSION + 8))
    assert message.startswith(f"p.toml: policy file format_version {policy.FORMAT_VERSION + 8} is newer")
    assert message.endswith("upgrade t4rec-bench")


def test_an_older_policy_file_says_fix_the_file():
    message = _refused(_doc(format_version=0))
    assert message.startswith("p.toml: policy file format_version 0 has no upgrade")
    assert message.endswith("fix the file")


@pytest.mark.parametrize("version", [None, "1", 1.5])
def test_a_policy_file_without_an_integer_version_is_refused(version):
    doc = _doc(format_version=version)
    if version is None:
        del doc["format_version"]
    assert _refused(doc) == f"p.toml: policy file has format_version {version!r}, this harness reads {policy.FORMAT_VERSION}; fix the file"
