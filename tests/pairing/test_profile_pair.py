"""The differential profile of a check, end to end through harness/pairing/gate.py: the judged pairs come
from fixture records (as in test_gate_undecided.py) with one stage slowed, so the verdict regresses at
once; the profiled pair is real: the smoke profile with a planted spinning slowdown of that stage, run
under py-spy beside the unplanted committed code (HEAD as the in-session reference). The verdict's
profile must name the planted function first in the slowed stage. Without ``profile_to`` there is no
profile, and without py-spy the verdict says so and the check goes on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from verdict_fixtures import make_baseline, make_record

from harness.config import build_config
from harness.judge.verdict import Verdict
from harness.pairing import gate, profile
from harness.pairing import reference as referencemod

@pytest.fixture
def judged_pairs(monkeypatch, tmp_path):
    """gate.run's judged pairs faked: ``slow[0]`` (a stage) twice as slow on the current side."""
    slow = []

    def interleaved(config, repeat, arms, progress=None, command=None, mode="duet", stop=None, period_s=None,
                    pairs_log=None, barrier_timeout_s=None):
        cur = [make_record(seed=1000 + i, slow={slow[0]: 2.0}, run_id=f"20240501T120000-c{i:05d}")
               for i in range(repeat)]
        ref = [make_record(seed=5000 + i, run_id=f"20240501T120000-r{i:05d}") for i in range(repeat)]
        return cur, {"reference": ref}, None

    monkeypatch.setattr(referencemod, "interleaved", interleaved)
    path = tmp_path / "ci.json"
    path.write_text(json.dumps(make_baseline(repeat=10)))
    return slow, path


@pytest.mark.slow
@pytest.mark.skipif(isinstance(profile.py_spy(), str), reason="py-spy is not installed beside this interpreter")
@pytest.mark.parametrize("stage", ["train", "etl"])
def test_a_planted_slowdown_is_named_first_in_its_stage(judged_pairs, tmp_path, stage):
    slow, path = judged_pairs
    slow.append(stage)
    config = build_config("smoke", {"device": "cpu", "faults.slowdown_stage": stage, "faults.slowdown_fraction": 1.0,
                                    "faults.slowdown_kind": "spin"})
    out = gate.run(config, 8, path, reference="HEAD", reference_env="current", mode="duet", sequential=False,
                   profile_to=tmp_path / "reports")
    prof = out.verdict.profile_diff
    assert prof["skipped"] is None, prof["skipped"]
    assert f"{stage}.wall_s" in prof["trigger"] and prof["profiler"].startswith("py-spy ")
    entry = next(s for s in prof["stages"] if s["stage"] == stage)
    top = entry["functions"][0]
    assert (top["function"], top["file"]) == ("_planted_slowdown", "harness/pipeline/chain.py"), entry["functions"][:3]
    assert top["reference_s"] == 0.0 and top["delta_s"] > 0 and top["current_share"] > 0.3
    assert stage in prof["overhead_pct"]
    for side in ("current", "reference"):
        folded = (tmp_path / "reports" / prof["folded"][side]).read_text()
        assert "harness/pipeline/chain.py" in folded
    assert Verdict.from_dict(json.loads(json.dumps(out.verdict.to_dict()))) == out.verdict  # the file round-trips


def test_no_profile_is_asked_for_without_profile_to(judged_pairs, tmp_path):
    slow, path = judged_pairs
    slow.append("train")
    out = gate.run(build_config("ci", {"device": "cpu"}), 8, path, reference="HEAD", reference_env="current",
                   mode="duet", sequential=False)
    assert out.verdict.overall == "regressed" and out.verdict.profile_diff is None


def test_a_missing_py_spy_is_said_and_the_check_goes_on(judged_pairs, tmp_path, monkeypatch):
    slow, path = judged_pairs
    slow.append("train")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))  # no py-spy beside it
    out = gate.run(build_config("ci", {"device": "cpu"}), 8, path, reference="HEAD", reference_env="current",
                   mode="duet", sequential=False, profile_to=tmp_path)
    prof = out.verdict.profile_diff
    assert out.verdict.overall == "regressed" and prof["stages"] == [] and prof["folded"] is None
    assert prof["skipped"].startswith(f"py-spy is not installed beside {tmp_path / 'bin' / 'python'}")
    assert "train.wall_s" in prof["trigger"]


@pytest.mark.skipif(isinstance(profile.py_spy(), str), reason="py-spy is not installed beside this interpreter")
def test_a_failed_profiled_run_is_said_and_keeps_no_stacks(tmp_path):
    from harness.judge.decide import verdict_of

    base = tmp_path / "ci.json"
    base.write_text(json.dumps(make_baseline(repeat=10)))
    verdict = verdict_of(make_record(seed=1, slow={"train": 2.0}), base)
    assert verdict.overall == "regressed"
    arm = referencemod.Arm("reference", referencemod.Reference("ab" * 20, tmp_path), str(tmp_path / "no-python"))
    prof = profile.for_verdict(verdict, build_config("smoke"), arm, {}, False, tmp_path / "out")  # reference first
    assert prof["skipped"].startswith("the profiled pair failed: ") and "no-python" in prof["skipped"]
    assert (prof["folded"], prof["stages"]) == (None, []) and not (tmp_path / "out").exists()


def test_stacks_that_name_no_stage_give_no_diff_and_say_so(tmp_path):
    from harness.judge import policy

    runs = {s: {"folded": "main (x.py:1) 5\n", "code_dir": tmp_path} for s in profile.SIDES}
    assert profile._stages(runs, ["train.wall_s"], policy.profile_settings()) == {
        "skipped": "the current run's stacks name no pipeline stage (no stage frame or call site of "
                   "harness/pipeline/chain.py in them)"}
