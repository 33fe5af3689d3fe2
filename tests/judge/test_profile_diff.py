"""The differential profile's pure part (harness/judge/profile_diff.py) on fixed folded stacks: which
stage a sample belongs to, and the per-function self-time diff, with known answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.documents import verdict as verdictdoc
from harness.errors import HarnessError
from harness.judge import profile_diff as pd

PARENT = 'process 10:"python -m harness.cli run --profile smoke"'
WORKER = 'process 11:"python -m harness.run.worker cfg.json /tmp/w 4"'
MAIN = f"{PARENT};{WORKER};<module> (harness/run/worker.py:73);main (harness/run/worker.py:58)"
RUN = "run (harness/pipeline/chain.py:80)"


def _stage(stage: str, caller: str, *leaf: str) -> str:
    """A worker stack through the named stage frame (the current code's chain.py)."""
    return ";".join([MAIN, caller, RUN, f"stage__{stage} (harness/pipeline/chain.py:47)", *leaf])


TRAIN = "execute (harness/pipeline/chain.py:131)"
CURRENT = "\n".join([
    _stage("train", TRAIN, "train_day (harness/pipeline/stages/train.py:40)", "forward (torch/nn/modules/module.py:1501) 60"),
    _stage("train", TRAIN, "_apply_faults (harness/pipeline/chain.py:32)", "_planted_slowdown (harness/pipeline/chain.py:44) 30"),
    _stage("train", TRAIN, "_apply_faults (harness/pipeline/chain.py:32)", "_planted_slowdown (harness/pipeline/chain.py:45) 10"),
    _stage("etl", "_etl (harness/pipeline/chain.py:250)", "run (harness/pipeline/stages/etl.py:90)",
           "fit (nvtabular/workflow/workflow.py:200) 50"),
    f"{PARENT};<module> (harness/cli.py:61);main (harness/run/runner.py:300);wait (subprocess.py:1264) 900",  # the parent waits
    f"{PARENT};{WORKER} 3",  # a sample with no Python frame
    f"{MAIN};execute (harness/pipeline/chain.py:118);etl_fingerprint (harness/pipeline/chain.py:70) 7",  # between stages
])
# The reference's code predates the stage frames: its stages are told by their call sites in its chain.py.
REF_CHAIN = '''def execute(s, config):
    s.run("imports", _import_stack)
    raw = s.run("etl", etl.run, config.etl,
                raw.path)
    for day in days:
        tr = s.run("train", train.train_day, trainer, day=day)
    subprocess.run("ls", check=True)
'''
REF_MAIN = f"{PARENT};{WORKER};<module> (harness/run/worker.py:73);main (harness/run/worker.py:58)"
REF_RUN = "run (harness/pipeline/chain.py:49)"
REFERENCE = "\n".join([
    f"{REF_MAIN};execute (harness/pipeline/chain.py:6);{REF_RUN};train_day (harness/pipeline/stages/train.py:40);"
    f"forward (torch/nn/modules/module.py:1501) 70",
    f"{REF_MAIN};execute (harness/pipeline/chain.py:4);{REF_RUN};run (harness/pipeline/stages/etl.py:90);"
    f"fit (nvtabular/workflow/workflow.py:200) 50",  # line 4: the second line of the etl call
    f"{REF_MAIN};execute (harness/pipeline/chain.py:9);helper (harness/pipeline/chain.py:20) 5",  # no call site
])
SITES = pd.call_sites(REF_CHAIN, "harness/pipeline/chain.py")


def test_a_sample_belongs_to_the_stage_frame_in_its_stack_fault_knob_included():
    current = pd.by_stage(CURRENT)
    assert {s: v.samples for s, v in current.items()} == {"train": 100, "etl": 50}
    assert current["train"].self_samples == {("_planted_slowdown", "harness/pipeline/chain.py"): 40,
                                             ("forward", "torch/nn/modules/module.py"): 60}


def test_code_without_stage_frames_is_read_through_its_call_sites():
    assert SITES == {("harness/pipeline/chain.py", 2): "imports", ("harness/pipeline/chain.py", 3): "etl",
                     ("harness/pipeline/chain.py", 4): "etl", ("harness/pipeline/chain.py", 6): "train"}
    reference = pd.by_stage(REFERENCE, SITES)
    assert {s: v.samples for s, v in reference.items()} == {"train": 70, "etl": 50}
    assert pd.by_stage(REFERENCE) == {}  # without its call sites, old code names no stage


def test_a_stage_frame_wins_over_a_call_site():
    texts = ("execute (harness/pipeline/chain.py:6)", "stage__etl (harness/pipeline/chain.py:47)")
    frames = [pd.parse_frame(t) for t in texts]
    assert pd.stage_of(frames, SITES) == "etl"
    assert pd.stage_of(frames[:1], SITES) == "train" and pd.stage_of(frames[:1]) is None


def test_frames_parse_and_a_line_without_a_count_is_refused():
    assert pd.parse_frame("stage__train (harness/pipeline/chain.py:47)") == pd.Frame(
        "stage__train", "harness/pipeline/chain.py", 47)
    assert pd.parse_frame("<module> (<frozen runpy>:198)") == pd.Frame("<module>", "<frozen runpy>", 198)
    assert pd.parse_frame(PARENT) is None
    with pytest.raises(HarnessError, match="^folded stacks line 2: no sample count"):
        pd.parse_folded("a (x.py:1) 3\na (x.py:1)\n")


def test_the_diff_ranks_the_planted_function_first_with_known_seconds_and_shares():
    current, reference = pd.by_stage(CURRENT), pd.by_stage(REFERENCE, SITES)
    [train] = pd.diff(current, reference, ["train"], rate_hz=100, top=10)
    assert train["current"] == {"samples": 100, "seconds": 1.0}
    assert train["reference"] == {"samples": 70, "seconds": 0.7}
    assert train["functions"] == [
        {"function": "_planted_slowdown", "file": "harness/pipeline/chain.py", "line": 44, "current_s": 0.4,
         "reference_s": 0.0, "delta_s": 0.4, "current_share": 0.4, "reference_share": 0.0},
        {"function": "forward", "file": "torch/nn/modules/module.py", "line": 1501, "current_s": 0.6,
         "reference_s": 0.7, "delta_s": -0.1, "current_share": 0.6, "reference_share": 1.0}]
    assert [f["function"] for f in pd.diff(current, reference, ["train"], 100, top=1)[0]["functions"]] == [
        "_planted_slowdown"]


def test_a_function_that_got_faster_by_more_ranks_above_a_smaller_slowdown():
    cur = pd.by_stage("stage__s (c.py:1);a (a.py:1) 10\nstage__s (c.py:1);b (b.py:1) 5\n")
    ref = pd.by_stage("stage__s (c.py:1);a (a.py:1) 40\nstage__s (c.py:1);b (b.py:1) 3\n")
    rows = pd.diff(cur, ref, ["s"], rate_hz=10, top=5)[0]["functions"]
    assert [(r["function"], r["delta_s"]) for r in rows] == [("a", -3.0), ("b", 0.2)]


def test_the_stages_kept_are_the_triggers_and_every_stage_for_a_whole_run_trigger():
    current, reference = pd.by_stage(CURRENT), pd.by_stage(REFERENCE, SITES)
    assert pd.kept_stages(["train.wall_s", "train.cpu_s"], current, reference) == ["train"]
    assert pd.kept_stages(["cluster.wall_s"], current, reference) == []  # a stage neither side ran
    assert pd.kept_stages(["total.cpu_s"], current, reference) == ["train", "etl"]  # train moved 30, etl 0


def test_triggers_are_the_regressed_or_undecided_time_measurements():
    m = lambda name, kind, verdict: SimpleNamespace(name=name, kind=kind, verdict=verdict)  # noqa: E731
    ms = [m("train.wall_s", "time", "regressed"), m("etl.rows_per_s", "throughput", "undecided"),
          m("evaluate.wall_s", "time", "ok"), m("peak_rss_bytes", "memory", "regressed"),
          m("quality.ndcg_at_20", "metric", "undecided")]
    assert pd.triggers(ms) == ["train.wall_s", "etl.rows_per_s"]


def test_overhead_is_the_profiled_wall_against_the_judged_median_averaged_over_the_sides():
    rec = lambda walls: {"measurements": [{"name": f"{s}.wall_s", "samples": v} for s, v in walls.items()]  # noqa: E731
                         + [{"name": "train.cpu_s", "samples": [9.0]}]}
    current = (pd.stage_walls(rec({"train": [11.0], "total": [22.0]})),
               pd.stage_walls(rec({"train": [10.0, 9.0, 12.0], "total": [20.0]})))
    reference = (pd.stage_walls(rec({"train": [10.6]})), pd.stage_walls(rec({"train": [10.0, 10.0]})))
    assert pd.overhead_pct([current, reference]) == {"total": 10.0, "train": 8.0}  # train: mean of 10% and 6%


def test_a_diff_fits_the_verdict_schema():
    stages = pd.diff(pd.by_stage(CURRENT), pd.by_stage(REFERENCE, SITES), ["train", "etl"], 100, 10)
    doc = {"profiler": "py-spy 0.4.1", "rate_hz": 100, "trigger": ["train.wall_s"], "skipped": None,
           "overhead_pct": {"train": 4.1}, "stages": stages,
           "folded": {"current": "profile/current.folded", "reference": "profile/reference.folded"}}
    verdictdoc.validate_profile(doc)
    with pytest.raises(HarnessError, match="profile_diff at stages/0/functions/0: 'line' is a required"):
        bad = {**doc, "stages": [{**stages[0], "functions": [{k: v for k, v in stages[0]["functions"][0].items()
                                                              if k != "line"}]}]}
        verdictdoc.validate_profile(bad)


def test_the_profile_table_is_read_from_the_policy_file_and_checked(tmp_path):
    from harness.judge import policy

    committed = policy.profile_settings()
    assert committed.top >= 1 and committed.rate_hz >= 1
    own = tmp_path / "p.toml"
    own.write_text("[profile]\ntop = 3\n")
    assert policy.profile_settings(own) == policy.ProfileSettings(top=3, rate_hz=committed.rate_hz)
    own.write_text("[gate]\n")
    assert policy.profile_settings(own) == committed  # a file without [profile]: the committed table
    own.write_text("[profile]\nrate_hz = 0\n")
    with pytest.raises(HarnessError, match=r"p.toml: \[profile\]: rate_hz=0: must be an integer in \[1, 1000\]"):
        policy.profile_settings(own)
    own.write_text("[profile]\ntopp = 3\n")
    with pytest.raises(HarnessError, match=r"unknown key 'topp' \(did you mean 'top'\?\)"):
        policy.profile_settings(own)
