"""The verdict document (harness/documents/verdict.py): what `compare --format json` and `check
--verdict-out` write, read back through the one version check (harness/documents/versions.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.documents import verdict as verdictdoc
from harness.errors import HarnessError
from harness.judge.verdict import MeasurementVerdict, Verdict
from harness.output import formatters


def a_verdict() -> Verdict:
    m = MeasurementVerdict(name="train.wall_s", unit="s", kind="time", higher_is_better=False, baseline=10.0,
                           current=12.0, change_pct=20.0, ci_low_pct=15.0, ci_high_pct=25.0, p_value=1e-5,
                           confidence=0.99, threshold_pct=5.0, min_detectable_pct=6.0, verdict="regressed",
                           reason="20.0% slower", against="reference", cause="code: a..b",
                           comparand_low=9.5, comparand_high=10.5)
    return Verdict(overall="regressed", exit_code=1, run_id="r1", profile="ci", baseline_path="b.json",
                   baseline_provenance={"commit": "abc", "runs": 10}, environment_diff=[("python", "3.11", "3.12")],
                   workload_match=True, measurements=(m,), notes=("a note",),
                   reference_provenance={"commit": "abc", "runs": 10, "paired": True})


def test_a_current_verdict_document_round_trips():
    v = a_verdict()
    doc = json.loads(formatters.to_json(v))
    assert (doc["format_version"], doc["kind"]) == (verdictdoc.FORMAT_VERSION, verdictdoc.KIND)
    assert list(doc)[:2] == ["format_version", "kind"]
    assert Verdict.from_dict(doc) == v
    assert verdictdoc.load(doc) == {k: doc[k] for k in doc if k not in ("format_version", "kind")}


@pytest.mark.parametrize("doc, message", [
    ({"format_version": 1}, "^not a t4rec-bench verdict"),
    ({"format_version": 1, "kind": "t4rec-bench/run"}, "^not a t4rec-bench verdict"),
    ([], "^verdict is not a JSON object$"),
    (None, "^verdict is not a JSON object$"),
])
def test_another_kind_of_document_is_refused(doc, message):
    with pytest.raises(HarnessError, match=message):
        Verdict.from_dict(doc)


def test_a_version_1_verdict_reads_unstable_as_undecided():
    from harness.documents import verdict as verdictdoc

    old = {"format_version": 1, "kind": "t4rec-bench/verdict", "overall": "unstable",
           "measurements": [{"name": "total.wall_s", "verdict": "unstable"}, {"name": "x", "verdict": "ok"}]}
    body = verdictdoc.load(old)
    assert body["overall"] == "undecided" and [m["verdict"] for m in body["measurements"]] == ["undecided", "ok"]


def test_a_version_2_verdict_reads_with_no_etl_backend():
    # version 3 names where the run's ETL ran; a version 2 verdict did not say, and reads as not saying
    v2 = {**dataclasses.replace(a_verdict(), etl_backend="pandas").to_dict(), "format_version": 2}
    del v2["etl_backend"]
    again = Verdict.from_dict(v2)
    assert again.etl_backend is None
    assert again == dataclasses.replace(a_verdict(), etl_backend=None)


def test_a_version_3_verdict_reads_with_no_profile():
    # version 4 may carry a differential profile (harness/pairing/profile.py); a version 3 verdict had none
    v3 = {**a_verdict().to_dict(), "format_version": 3}
    del v3["profile_diff"]
    assert Verdict.from_dict(v3) == a_verdict() and a_verdict().profile_diff is None


def test_a_verdict_with_a_malformed_profile_is_refused_with_its_place():
    profile = {"profiler": "py-spy 0.4.1", "rate_hz": 100, "trigger": ["train.wall_s"], "skipped": None,
               "overhead_pct": {"train": 3.0}, "stages": [{"stage": "train", "current": {"samples": 5, "seconds": 0.05},
                                                          "reference": {"samples": -1, "seconds": 0.0},
                                                          "functions": []}], "folded": None}
    doc = dataclasses.replace(a_verdict(), profile_diff=profile).to_dict()
    with pytest.raises(HarnessError, match=r"^v.json: verdict profile_diff at stages/0/reference/samples: -1 is less"):
        verdictdoc.load(doc, "v.json")
    doc["profile_diff"]["stages"][0]["reference"]["samples"] = 4
    assert Verdict.from_dict(doc).profile_diff["stages"][0]["reference"] == {"samples": 4, "seconds": 0.0}
