"""The nightly's in-session ratios (harness/nightly/pairs.py, benchmarks/ratios.py): ratios, the
previous commit, steps on synthetic series; one real smoke night (slow)."""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.nightly import pairs as np_

ROOT = Path(__file__).resolve().parents[2]


def rec(**values) -> dict:
    return {"status": "ok", "measurements": [{"name": k, "value": v, "samples": [v]} for k, v in values.items()]}


def test_ratio_is_the_geometric_mean_of_the_pairs_with_the_gates_anytime_bounds():
    from harness.judge import sequential

    prev, cur = [10.0, 20.0, 40.0, 10.0, 20.0, 40.0], [11.0, 21.0, 44.0, 10.8, 21.2, 43.0]
    r = np_.ratio("total.wall_s", prev, cur)
    d = [math.log(c / p) for p, c in zip(prev, cur)]
    assert r.ratio == pytest.approx(math.exp(sum(d) / 6))
    assert r.n == 6 and 0 < r.low < r.ratio < r.high
    s = np_.settings()
    cs = sequential.sequence(d, s.alpha, s.design)
    assert math.log(r.low) == pytest.approx(cs.low) and math.log(r.high) == pytest.approx(cs.high)
    # the level of each pair cancels: a drifting host scales both sides of a pair alike
    drift = [1.0, 1.3, 0.8]
    assert np_.ratio("x", [10 * k for k in drift], [10.5 * k for k in drift]).ratio == pytest.approx(1.05)


def test_ratio_needs_pairs_of_positive_values():
    assert np_.ratio("x", [], []) is None
    assert np_.ratio("x", [1.0, 2.0], [1.0]) is None
    assert np_.ratio("x", [1.0, 0.0], [1.0, 1.0]) is None
    one = np_.ratio("total.wall_s", [2.0], [2.4])
    assert one.ratio == pytest.approx(1.2) and one.n == 1
    assert np_.steps([np_.Night("c", one)]) == []  # fewer pairs than [nightly] min_pairs: no evidence


def test_pair_ratios_per_gated_measurement():
    prev = [rec(**{"total.wall_s": 10.0, "train.wall_s": 2.0}) for _ in range(3)]
    cur = [rec(**{"total.wall_s": 10.5, "train.wall_s": 3.0}) for _ in range(3)]
    got = np_.pair_ratios(prev, cur)
    assert set(got) == {"total.wall_s", "train.wall_s"}  # the others are missing from the records
    assert got["total.wall_s"].ratio == pytest.approx(1.05)
    assert got["train.wall_s"].ratio == pytest.approx(1.5)


def _series(levels, sd=0.03, seed=0):
    """Nights over commits whose underlying levels are ``levels``, each night measured in its own
    session on a host whose speed drifts by up to 25% between nights; pair noise sd (log). Each night
    adds pairs as `run_pairs` does: until decided (from [nightly] min_pairs on) or max_pairs."""
    rnd = random.Random(seed)
    s = np_.settings()
    nights = []
    for i in range(1, len(levels)):
        host = math.exp(rnd.uniform(-0.25, 0.25))  # the night's host speed: common to both sides
        prev, cur = [], []
        while True:
            moment = host * math.exp(rnd.gauss(0, 0.05))  # shared by the two sides of one pair
            prev.append(levels[i - 1] * moment * math.exp(rnd.gauss(0, sd / math.sqrt(2))))
            cur.append(levels[i] * moment * math.exp(rnd.gauss(0, sd / math.sqrt(2))))
            r = np_.ratio("total.wall_s", prev, cur, s)
            if len(prev) >= s.max_pairs or (len(prev) >= s.min_pairs and np_.decided(r, s)):
                break
        nights.append(np_.Night(f"c{i}", r, f"c{i - 1}"))
    return nights


def test_a_step_shows_as_the_one_night_whose_ratio_is_above_one():
    found = []
    for seed in range(50):
        levels = [10.0] * 4 + [10.5] * 4  # a 5% step at commit c4
        found.append([s.commit for s in np_.steps(_series(levels, sd=0.015, seed=seed))])
    assert sum(f == ["c4"] for f in found) >= 45, found
    assert all(set(f) <= {"c4"} for f in found)


def test_an_unchanged_series_names_no_step():
    named = sum(len(np_.steps(_series([10.0] * 8, sd=0.03, seed=seed))) for seed in range(100))
    # 700 A/A nights, each looked at after every pair: the anytime bound holds the false steps of the
    # one named measurement to [gate] alpha_primary (0.5%: 3.5 expected) whatever the stopping
    assert named <= 10


def test_steps_direction_and_threshold():
    up = np_.Ratio("total.wall_s", 1.05, 1.02, 1.08, 3, 0.01)
    small = np_.Ratio("total.wall_s", 1.012, 1.005, 1.02, 3, 0.01)  # significant but below the 1.5% step_pct
    unsure = np_.Ratio("total.wall_s", 1.06, 0.98, 1.14, 3, 0.05)  # large but not significant
    down = np_.Ratio("total.wall_s", 0.94, 0.92, 0.96, 3, 0.01)
    series = [np_.Night("a", up, "p"), np_.Night("b", small), np_.Night("c", unsure), np_.Night("d", down)]
    assert [(s.commit, s.direction) for s in np_.steps(series)] == [("a", "regressed")]
    assert [(s.commit, s.direction) for s in np_.steps(series, improvements=True)] == [
        ("a", "regressed"), ("d", "improved")]
    assert "+5.0%" in np_.steps(series)[0].line() and "vs p" in np_.steps(series)[0].line()
    stage = np_.Night("e", np_.Ratio("etl.wall_s", 1.5, 1.2, 1.8, 3, 0.1))
    assert np_.steps([stage]) == []  # the stages say where; the totals name the step
    assert [s.measurement for s in np_.steps([stage], names=None)] == ["etl.wall_s"]


def test_ratio_round_trips_through_json():
    r = np_.ratio("x", [1.0], [1.2])
    assert math.isnan(np_.ratio_from_dict(np_.ratio_to_dict(r)).sd_log)  # one pair: no sd
    r = np_.ratio("x", [1.0, 1.1], [1.2, 1.3])
    assert np_.ratio_from_dict(np_.ratio_to_dict(r)) == r


# ---- the previous commit ---------------------------------------------------------------------------

def _git(repo, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


@pytest.fixture()
def repo(tmp_path):
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    commits = []
    for i in range(5):
        (path / "f").write_text(str(i))
        _git(path, "add", "f")
        _git(path, "commit", "-q", "-m", str(i))
        commits.append(_git(path, "rev-parse", "HEAD"))
    return path, commits


def test_previous_nightly_commit(repo, tmp_path):
    path, c = repo
    assert np_.previous_nightly_commit(path, set()) == c[3]  # first night: HEAD^
    assert np_.previous_nightly_commit(path, {c[1]}) == c[1]  # newest with results
    assert np_.previous_nightly_commit(path, {c[1], c[2], c[4]}) == c[2]  # HEAD re-run: a strict ancestor
    assert np_.previous_nightly_commit(path, set(), head=c[0]) is None  # a root commit
    results = tmp_path / "results" / "m1"
    results.mkdir(parents=True)
    (results / "machine.json").write_text("{}")
    (results / f"{c[2][:8]}-virtualenv-py3.11.json").write_text(f'{{"commit_hash": "{c[2]}"}}')
    (results / "broken.json").write_text("{")
    assert np_.benchmarked_commits(tmp_path / "results", "m1") == {c[2]}
    assert np_.benchmarked_commits(tmp_path / "results", "m2") == set()


def test_partner_pairs_each_new_commit_with_its_predecessor(repo):
    path, c = repo
    assert np_.partner(path, c[4], c[3]) == c[3]
    # three commits since the previous night: each is its own step
    assert [np_.partner(path, x, c[1]) for x in c[2:]] == [c[1], c[2], c[3]]
    assert np_.partner(path, c[3], c[3]) is None  # re-running the previous night
    assert np_.partner(path, c[0], None) is None  # a root commit
    assert np_.partner(path, c[2], None) == c[1]


# ---- benchmarks/ratios.py and the nightly command -------------------------------------------------

@pytest.fixture()
def ratios(monkeypatch):
    import importlib

    monkeypatch.setenv("T4REC_BENCH_PROFILES", "smoke")
    for name in ("benchmarks._shared", "benchmarks.ratios"):
        sys.modules.pop(name, None)
    yield importlib.import_module("benchmarks.ratios")
    for name in ("benchmarks._shared", "benchmarks.ratios"):
        sys.modules.pop(name, None)


def test_ratio_benchmarks_track_the_night_and_skip_without_a_previous_commit(ratios, monkeypatch, repo):
    assert ratios.MEASUREMENTS == np_.GATED
    assert ratios.default_pairs() == np_.settings().max_pairs and ratios.nightly_pairs() is np_
    bench = ratios.Ratio()
    nights = {"skip": None, "previous": "p", "ratios": {"smoke": {"total.wall_s": (1.05, 1.01, 1.09)}}}
    bench.setup(nights, "smoke", "total.wall_s")
    assert (bench.track_ratio(nights, "smoke", "total.wall_s"), bench.track_ratio_low(nights, "smoke", "total.wall_s"),
            bench.track_ratio_high(nights, "smoke", "total.wall_s")) == (1.05, 1.01, 1.09)
    for profile, measurement in (("nightly", "total.wall_s"), ("smoke", "etl.wall_s")):
        with pytest.raises(NotImplementedError):
            bench.setup(nights, profile, measurement)
    path, c = repo
    monkeypatch.setenv("T4REC_BENCH_REPO", str(path))
    monkeypatch.setenv("ASV_COMMIT", c[0])  # a root commit: nothing to pair with
    assert "no previous commit" in ratios.run_nights()["skip"]
    monkeypatch.setenv("T4REC_BENCH_PAIRS", "0")
    assert ratios.run_nights()["skip"] == "T4REC_BENCH_PAIRS=0"
    with pytest.raises(NotImplementedError):
        bench.setup(ratios.run_nights(), "smoke", "total.wall_s")
    monkeypatch.setenv("T4REC_BENCH_PAIRS", "1")
    with pytest.raises(ValueError, match="T4REC_BENCH_PAIRS: '1': 0 .no pairs. or at least 2"):
        ratios.pairs()


def _nightly_args(*argv):
    from harness.commands import nightly

    parser = argparse.ArgumentParser()
    nightly.add_parser(parser.add_subparsers())
    return nightly.options(parser.parse_args(["nightly", *argv]))


def test_nightly_passes_the_previous_commit_and_the_pairs(repo, capsys):
    from harness.nightly import asv as asv_nightly

    path, c = repo
    _, run, _ = asv_nightly.plan(_nightly_args("--profile", "smoke", "--pairs", "2", "--pair-mode", "duet"),
                             "m1", None, c[3], path)
    assert run.env["T4REC_BENCH_PREVIOUS_COMMIT"] == c[3] and run.env["T4REC_BENCH_PAIRS"] == "2"
    assert run.env["T4REC_BENCH_PAIR_MODE"] == "duet" and run.env["T4REC_BENCH_REPO"] == str(path.resolve())
    _, run, _ = asv_nightly.plan(_nightly_args(), "m1", None)
    assert run.env["T4REC_BENCH_PAIRS"] == str(np_.settings().max_pairs) and "T4REC_BENCH_PREVIOUS_COMMIT" not in run.env
    from harness.errors import HarnessError
    from harness.nightly.asv import NightlyOptions

    with pytest.raises(HarnessError, match=r"^--pairs 1: 0 \(no pairs\) or at least 2"):
        _nightly_args("--pairs", "1")
    with pytest.raises(HarnessError, match="^--pairs -3: "):
        NightlyOptions(pairs=-3)
    with pytest.raises(HarnessError, match="^--pair-mode 'duo': one of "):
        NightlyOptions(pair_mode="duo")
    with pytest.raises(HarnessError, match="^--all-nights goes with --steps"):
        _nightly_args("--all-nights")
    assert NightlyOptions(pairs=0).max_pairs == 0 and _nightly_args("--steps", "--all-nights").all_nights


def test_nightly_first_night_pairs_head_with_its_parent(tmp_path, capsys):
    import json

    from harness.cli import main
    from harness.documents import asv_config

    conf = {**asv_config.read(ROOT / "asv.conf.json"), "repo": str(ROOT),
            "results_dir": str(tmp_path / "results")}
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    assert main(["nightly", "--config", str(tmp_path / "asv.conf.json"), "--machine", "m1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    parent = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD^"], check=True, capture_output=True,
                            text=True).stdout.strip()
    assert f"T4REC_BENCH_PREVIOUS_COMMIT={parent}" in out
    assert main(["nightly", "--config", str(tmp_path / "asv.conf.json"), "--steps"]) == 0
    assert "no ratio results" in capsys.readouterr().out
    assert main(["nightly", "--config", str(tmp_path / "asv.conf.json"), "--all-nights"]) == 2
    assert "error: --all-nights goes with --steps" in capsys.readouterr().err


def test_steps_from_asv_results(tmp_path, capsys):
    """asv result files of ratios.Ratio for three commits: the middle one is named."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    results = tmp_path / "results"
    (results / "m1").mkdir(parents=True)
    params = [["'smoke'"], ["'total.wall_s'"]]
    bench = {}
    for kind in ("track_ratio", "track_ratio_low", "track_ratio_high"):
        name = f"ratios.Ratio.{kind}"
        bench[name] = {"name": name, "type": "track", "unit": "ratio", "version": "1",
                       "params": params, "param_names": ["profile", "measurement"], "code": "", "timeout": 60.0}
    import json

    (results / "benchmarks.json").write_text(json.dumps({**bench, "version": 2}))
    (results / "m1" / "machine.json").write_text(json.dumps({"machine": "m1", "version": 1}))
    nights = {"a" * 40: (1.00, 0.98, 1.02), "b" * 40: (1.05, 1.03, 1.07), "c" * 40: (0.99, 0.97, 1.01)}
    for i, (commit, values) in enumerate(nights.items()):
        res = Results({"machine": "m1", "python": "3.11"}, {}, commit, 1_700_000_000_000 + i * 86_400_000,
                      "3.11", "existing", {})
        for (name, info), value in zip(bench.items(), values):
            res.add_result(info, BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0,
                                                 stderr="", profile=None))
        res.save(str(results))
    got = np_.asv_nights(results)
    (key,) = got
    assert [n.commit for n in got[key]] == list(nights)
    assert [s.commit for s in np_.steps(got[key])] == ["b" * 40]
    from harness.commands import nightly

    assert nightly.show_steps(results, None, None) == 1  # `t4rec-bench nightly --steps`
    out = capsys.readouterr().out
    assert "aaaaaaaa 1.000, bbbbbbbb 1.050, cccccccc 0.990" in out
    assert "step: bbbbbbbbbb: total.wall_s regressed +5.0%" in out
    assert "3 nights judged now, 0 judged before" in out
    # each night is judged once: the next --steps names nothing new, and says what it saw before
    ledger = json.loads((tmp_path / "steps-reported.json").read_text())
    assert [n["commit"] for n in ledger["nights"]] == list(nights)
    assert any("regressed +5.0%" in line for line in ledger["nights"][1]["steps"])
    assert nightly.show_steps(results, None, None) == 0
    out = capsys.readouterr().out
    assert "regressed +5.0% (ratio 1.050" in out and "(judged before)" in out
    assert "0 nights judged now, 3 judged before" in out and "no new step" in out
    # a new night joins: only it is judged
    res = Results({"machine": "m1", "python": "3.11"}, {}, "d" * 40, 1_700_000_000_000 + 3 * 86_400_000,
                  "3.11", "existing", {})
    for (name, info), value in zip(bench.items(), (1.06, 1.04, 1.08)):
        res.add_result(info, BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0,
                                             stderr="", profile=None))
    res.save(str(results))
    assert nightly.show_steps(results, None, None) == 1
    assert "1 night judged now, 3 judged before" in capsys.readouterr().out
    assert nightly.show_steps(results, None, None, every=True) == 1  # --all-nights: all four again
    assert "4 nights judged now (--all-nights" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "steps-reported.json").read_text())["nights"]) == 4


@pytest.mark.slow
def test_a_real_smoke_night_of_two_pairs_reads_one_on_unchanged_code(tmp_path):
    """HEAD's tree against itself (an A/A night): 2 pairs of the smoke profile, ratios near 1."""
    from harness.config import build_config

    ratios, prev, cur, mode = np_.run_pairs(build_config("smoke"), "HEAD", ROOT, pairs=2)
    assert len(prev) == len(cur) == 2 and mode
    assert set(np_.GATED) <= set(ratios)
    total = ratios["total.wall_s"]
    assert total.n == 2 and 0.7 < total.ratio < 1.4
    assert np_.steps([np_.Night("HEAD", r) for r in ratios.values()], threshold_pct=25.0, names=None) == []


def test_the_steps_ledger_is_a_versioned_document(tmp_path):
    from harness.documents import steps_ledger
    from harness.errors import HarnessError

    path = steps_ledger.default_path(tmp_path / "asv" / "results")
    assert path == tmp_path / "asv" / "steps-reported.json"  # beside asv's results, not in them
    doc = steps_ledger.load(path)
    assert doc["nights"] == [] and not path.exists()
    doc = steps_ledger.add(path, doc, [{"context": "k", "commit": "c1", "previous": "", "judged_at": "t", "steps": []}])
    assert steps_ledger.judged(steps_ledger.load(path)) == {("k", "c1")}
    path.write_text('{"kind": "t4rec-bench/calibration", "format_version": 1}')
    with pytest.raises(HarnessError, match="not a t4rec-bench steps ledger"):
        steps_ledger.load(path)
