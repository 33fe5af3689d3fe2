"""Verdicts on planted regressions and A/A runs, baseline files, policies and the commands.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here. Assertions are on verdicts, never on typed performance figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re

import pytest
from verdict_fixtures import MiB, environment, make_baseline, make_record

from harness import baseline, policy, record
from harness.compare import SEVERITY, Verdict, compare, no_baseline
from harness.errors import HarnessError


def by_name(verdict) -> dict:
    return {m.name: m for m in verdict.measurements}


def flagged(verdict) -> dict:
    return {m.name: m.verdict for m in verdict.measurements if m.verdict in ("regressed", "improved")}


@pytest.fixture(scope="module")
def base():
    return make_baseline()


# --- planted regressions ------------------------------------------------------------

@pytest.mark.parametrize("stage", ["etl", "train", "evaluate"])
def test_15_percent_slowdown_of_one_stage_is_flagged(base, stage):
    v = compare(make_record(seed=1, slow={stage: 1.15}), base)
    ms = by_name(v)
    assert ms[f"{stage}.wall_s"].verdict == "regressed", ms[f"{stage}.wall_s"].reason
    assert ms[f"{stage}.wall_s"].change_pct > 0
    assert (v.overall, v.exit_code) == ("regressed", 1)
    others = [n for n in flagged(v) if n.endswith(".wall_s") and n.split(".")[0] not in (stage, "total")]
    assert others == []
    assert v.measurements[0].verdict == "regressed"  # regressions first


def test_ndcg_drop_is_flagged_exactly_in_the_same_environment(base):
    v = compare(make_record(seed=1, quality={"ndcg_at_20": 0.1601}), base)
    m = by_name(v)["quality.ndcg_at_20"]
    assert m.verdict == "regressed" and "exact" in m.reason
    assert v.exit_code == 1


def test_ndcg_rise_is_an_improvement(base):
    v = compare(make_record(seed=1, quality={"ndcg_at_40": 0.2400}), base)
    assert by_name(v)["quality.ndcg_at_40"].verdict == "improved"
    assert v.exit_code == 0


def test_any_metric_difference_beyond_1e6_counts_when_deterministic(base):
    tiny = compare(make_record(seed=1, quality={"recall_at_20": 0.3912 + 5e-7}), base)
    small = compare(make_record(seed=1, quality={"recall_at_20": 0.3912 - 5e-6}), base)
    assert by_name(tiny)["quality.recall_at_20"].verdict == "ok"
    assert by_name(small)["quality.recall_at_20"].verdict == "regressed"


def test_loss_rise_is_a_regression(base):
    v = compare(make_record(seed=1, quality={"final_train_loss": 8.5}), base)
    assert by_name(v)["quality.final_train_loss"].verdict == "regressed"


def test_200_mb_more_memory_is_flagged(base):
    extra = {"train": 200 * MiB, "evaluate": 200 * MiB}
    v = compare(make_record(seed=1, extra_bytes=extra), base)
    ms = by_name(v)
    for name in ("train.peak_rss_bytes", "evaluate.peak_rss_bytes", "total.peak_rss_bytes"):
        assert ms[name].verdict == "regressed", ms[name].reason
    assert ms["etl.peak_rss_bytes"].verdict == "ok"
    assert v.exit_code == 1


def test_count_change_is_a_regression(base):
    v = compare(make_record(seed=1, quality={"eval_sessions": 990}), base)
    assert by_name(v)["quality.eval_sessions"].verdict == "regressed"


# --- A/A ----------------------------------------------------------------------------

def test_aa_runs_are_not_flagged(base):
    verdicts = [compare(make_record(seed=s), base) for s in range(1, 31)]
    assert [flagged(v) for v in verdicts] == [{}] * 30
    assert all(v.exit_code == 0 for v in verdicts)


def test_aa_runs_of_several_repetitions_use_mann_whitney_and_stay_quiet(base):
    v = compare(make_record(seed=5, repeat=10), base)
    assert flagged(v) == {}
    assert "Mann-Whitney" in by_name(v)["train.wall_s"].reason


def test_mann_whitney_path_flags_a_slowdown(base):
    v = compare(make_record(seed=5, repeat=10, slow={"train": 1.15}), base)
    m = by_name(v)["train.wall_s"]
    assert m.verdict == "regressed" and "Mann-Whitney" in m.reason
    assert m.ci_low_pct > 0


def test_calibrate_analysis_of_aa_records_reports_no_false_gate_failures():
    from harness.commands.calibrate import analyse

    records = [make_record(seed=s) for s in range(25)]
    result = analyse(records, baseline_size=10)
    assert result["comparisons"] == 25
    assert result["gate_false_positive"]["count"] == 0
    rows = {r["name"]: r for r in result["measurements"]}
    assert rows["total.wall_s"]["min_detectable_pct"] <= 10  # the bar, on this synthetic noise
    assert rows["train.wall_s"]["cv_normalised"] < rows["train.wall_s"]["cv"]  # shared load cancels


def test_calibrate_analysis_counts_planted_changes_as_flags():
    from harness.commands.calibrate import analyse

    records = [make_record(seed=s, slow={"train": 1.3} if s == 0 else None) for s in range(12)]
    result = analyse(records, baseline_size=10)
    train = next(r for r in result["measurements"] if r["name"] == "train.wall_s")
    assert train["false_regressed"]["count"] == 1  # the comparison with the slowed run as "current"
    assert result["gate_false_positive"]["count"] == 1


# --- noise --------------------------------------------------------------------------

def test_change_beyond_threshold_but_within_noise_is_unstable():
    noisy = make_baseline(noise=0.06)
    v = compare(make_record(seed=3, noise=0.06, slow={"train": 1.12}), noisy)
    m = by_name(v)["train.wall_s"]
    if abs(m.change_pct) > m.threshold_pct:
        assert m.verdict == "unstable" and "can detect" in m.reason
    else:
        assert m.verdict == "unstable" and "too noisy" in m.reason
    assert v.exit_code == 0


def test_too_noisy_data_says_the_smallest_detectable_change():
    noisy = make_baseline(noise=0.06)
    m = by_name(compare(make_record(seed=4, noise=0.06), noisy))["total.wall_s"]
    assert m.verdict == "unstable" and "too noisy" in m.reason
    assert f"{m.min_detectable_pct:.1f}%" in m.reason
    assert m.min_detectable_pct > 10


def test_one_sample_baseline_is_unstable():
    thin = make_baseline(repeat=1)
    m = by_name(compare(make_record(seed=1, slow={"train": 1.2}), thin))["train.wall_s"]
    assert m.verdict == "unstable" and "--repeat" in m.reason


# --- missing, incomparable, failed ------------------------------------------------------

def test_disappeared_measurement_is_missing(base):
    v = compare(make_record(seed=1, drop=("quality.ndcg_at_40",)), base)
    assert by_name(v)["quality.ndcg_at_40"].verdict == "missing"
    assert "disappeared" in by_name(v)["quality.ndcg_at_40"].reason
    assert (v.overall, v.exit_code) == ("missing", 3)


def test_new_measurement_without_baseline_is_missing():
    old = make_baseline(drop=("etl.rows_per_s",))
    v = compare(make_record(seed=1), old)
    assert by_name(v)["etl.rows_per_s"].verdict == "missing"
    assert by_name(v)["etl.rows_per_s"].current is not None


def test_workload_mismatch_is_incomparable(base):
    v = compare(make_record(seed=1, workload_hash="0" * 16), base)
    assert {m.verdict for m in v.measurements} == {"incomparable"}
    assert (v.overall, v.exit_code, v.workload_match) == ("incomparable", 3, False)
    assert any("workload differs" in n for n in v.notes)


def test_failed_run_is_failed_with_exit_4(base):
    v = compare(make_record(seed=1, status="failed", drop=("quality.ndcg_at_20",)), base)
    assert (v.overall, v.exit_code) == ("failed", 4)
    assert by_name(v)["quality.ndcg_at_20"].verdict == "failed"
    assert any("failed" in n for n in v.notes)


def test_no_baseline_is_missing_with_exit_3():
    v = no_baseline(make_record(seed=1), "baselines/x/ci.json", "no baseline")
    assert (v.overall, v.exit_code) == ("missing", 3)


def test_injected_faults_are_noted(base):
    v = compare(make_record(seed=1, faults={"lr_scale": 10.0}), base)
    assert any("lr_scale" in n for n in v.notes)


# --- environment differences and normalisation -------------------------------------------

def test_torch_upgrade_still_compares_times_and_lists_the_difference(base):
    upgraded = environment(**{"packages.torch": "2.14.0"})
    v = compare(make_record(seed=1, slow={"train": 1.2}, environment_=upgraded), base)
    assert ("packages.torch", "2.13.0", "2.14.0") in v.environment_diff
    assert v.workload_match
    assert by_name(v)["train.wall_s"].verdict == "regressed"
    ndcg = by_name(v)["quality.ndcg_at_20"]
    assert ndcg.verdict == "ok" and "environment differs" in ndcg.reason


def test_other_environment_uses_the_seed_spread_tolerance():
    spread = {"quality.ndcg_at_20": [0.1661, 0.1672, 0.1650, 0.1668, 0.1655]}
    seeded = make_baseline(seeds=spread)
    upgraded = environment(**{"packages.torch": "2.14.0"})
    wiggle = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.1665}, environment_=upgraded), seeded))
    drop = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.150}, environment_=upgraded), seeded))
    assert wiggle["quality.ndcg_at_20"].verdict == "ok"
    assert "5-seed spread" in wiggle["quality.ndcg_at_20"].reason
    assert drop["quality.ndcg_at_20"].verdict == "regressed"


def test_other_environment_without_seeds_uses_the_named_fallback(base):
    upgraded = environment(**{"packages.torch": "2.14.0"})
    m = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.12}, environment_=upgraded), base))
    assert m["quality.ndcg_at_20"].verdict == "regressed"
    assert "fallback" in m["quality.ndcg_at_20"].reason


def _slower_machine_baseline():
    slow_env = environment(cpu_model="Older CPU @ 1.6GHz")
    stages = {s: 1.25 for s in ("imports", "synthetic", "etl", "splits", "schema", "model", "train", "evaluate",
                                "checkpoint")}
    return make_baseline(slow=stages, speed=0.50, environment_=slow_env)


def test_speed_normalisation_makes_another_machine_comparable():
    v = compare(make_record(seed=1), _slower_machine_baseline())
    assert flagged(v) == {}
    assert "speed-normalised" in by_name(v)["train.wall_s"].reason


def test_without_normalisation_the_faster_machine_reads_as_an_improvement():
    text = policy.resources.files("harness").joinpath("policies.toml").read_text()
    raw = policy.parse(_toml(re.sub(r'normalise = "[a-z-]+"', 'normalise = "never"', text)))
    v = compare(make_record(seed=1), _slower_machine_baseline(), raw)
    assert by_name(v)["train.wall_s"].verdict == "improved"


def test_normalisation_still_flags_a_real_slowdown_on_another_machine():
    v = compare(make_record(seed=1, slow={"train": 1.2}), _slower_machine_baseline())
    assert by_name(v)["train.wall_s"].verdict == "regressed"


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


# --- the verdict object ------------------------------------------------------------------

def test_verdict_round_trips_through_json(base):
    from harness import formatters

    v = compare(make_record(seed=1, slow={"train": 1.15}), base, baseline_path="b.json")
    again = Verdict.from_dict(json.loads(formatters.to_json(v)))
    assert again == v


def test_verdict_from_dict_refuses_other_versions(base):
    d = compare(make_record(seed=1), base).to_dict()
    with pytest.raises(HarnessError, match="format_version"):
        Verdict.from_dict({**d, "format_version": 2})


def test_overall_is_the_worst_by_severity(base):
    v = compare(make_record(seed=1, slow={"train": 1.15}, drop=("quality.ndcg_at_40",)), base)
    assert v.overall == "regressed"
    order = [SEVERITY.index(m.verdict) for m in v.measurements]
    assert order == sorted(order)


# --- policies ---------------------------------------------------------------------------

def _policy_doc(**defaults) -> dict:
    kinds = ("time", "throughput", "memory", "metric", "loss", "count")
    rule = {"metric": "exact-or-seed-spread", "loss": "exact-or-seed-spread", "count": "exact"}
    return {"format_version": 1, "defaults": defaults,
            "policy": [{"kind": k, "rule": rule.get(k, "significance")} for k in kinds]}


def test_committed_policy_file_loads_and_covers_every_measurement(base):
    pols = policy.load()
    for m in base["record"]["measurements"]:
        assert pols.for_measurement(m["name"], m["kind"]).rule in policy.RULES
    assert pols.for_measurement("total.wall_s", "time").name == "total wall time"
    assert pols.for_measurement("etl.wall_s", "time").name == "stage wall time"
    assert pols.for_measurement("etl.cpu_s", "time").name == "stage cpu time"


def test_policy_unknown_key_suggests_the_right_one():
    with pytest.raises(HarnessError, match="did you mean 'threshold_pct'"):
        policy.parse(_policy_doc(treshold_pct=5))


def test_policy_needs_a_fallback_for_every_kind():
    doc = _policy_doc()
    doc["policy"] = doc["policy"][:-1]
    with pytest.raises(HarnessError, match="count"):
        policy.parse(doc)


@pytest.mark.parametrize("bad", [{"rule": "vibes"}, {"normalise": "sometimes"}, {"confidence": 1.5},
                                 {"threshold_pct": "five"}])
def test_policy_bad_values_are_named(bad):
    doc = _policy_doc()
    doc["policy"][0].update(bad)
    with pytest.raises(HarnessError, match=next(iter(bad)) if "five" not in str(bad) else "wrong type"):
        policy.parse(doc)


def test_policy_future_version_is_refused():
    with pytest.raises(HarnessError, match="upgrade"):
        policy.parse({**_policy_doc(), "format_version": 9})


# --- baseline files ------------------------------------------------------------------------

def test_default_path(tmp_path):
    assert baseline.default_path("ci", "cpu-2c-x86_64", tmp_path) == tmp_path / "cpu-2c-x86_64" / "ci.json"
    assert baseline.default_path("ci").parts[0] == "baselines"


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def good_text(base) -> str:
    return json.dumps(base)


BAD_BASELINES = {
    "truncated": lambda good: good[: len(good) // 2],
    "corrupt": lambda good: "\x00\x01 not json",
    "future": lambda good: json.dumps({**json.loads(good), "format_version": 99}),
    "unversioned": lambda good: json.dumps({k: v for k, v in json.loads(good).items() if k != "format_version"}),
    "foreign": lambda good: json.dumps({"hello": "world"}),
    "bad record": lambda good: json.dumps({**json.loads(good), "record": {"schema_version": 1}}),
}


@pytest.mark.parametrize("kind", sorted(BAD_BASELINES))
def test_bad_baseline_gives_exit_2_and_is_not_touched(tmp_path, good_text, kind):
    path = _write(tmp_path / "baselines" / "m" / "ci.json", BAD_BASELINES[kind](good_text))
    before = path.read_bytes()
    run_path = tmp_path / "run.json"
    record.write(make_record(seed=1), run_path)
    with pytest.raises(HarnessError) as info:
        cli(["compare", str(run_path), "--baseline", str(path)])
    assert info.value.exit_code == 2
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["ci.json"]


def test_future_baseline_message_says_what_to_do(tmp_path, good_text):
    path = _write(tmp_path / "ci.json", BAD_BASELINES["future"](good_text))
    with pytest.raises(HarnessError, match="upgrade t4rec-bench"):
        baseline.load(path)


def test_truncated_baseline_message_says_how_to_restore(tmp_path, good_text):
    path = _write(tmp_path / "ci.json", BAD_BASELINES["truncated"](good_text))
    with pytest.raises(HarnessError, match="git checkout"):
        baseline.load(path)


def test_save_keeps_the_replaced_baseline_in_history(tmp_path, base):
    path = tmp_path / "m" / "ci.json"
    assert baseline.save(base, path) == (None, None)
    newer = make_baseline(seed=2000)
    old, kept = baseline.save(newer, path)
    assert old == base and kept.parent == tmp_path / "m" / "history"
    assert json.loads(kept.read_text()) == base
    assert baseline.load(path)["record"]["run_id"] == newer["record"]["run_id"]
    baseline.save(make_baseline(seed=3000), path)
    assert len(list((tmp_path / "m" / "history").iterdir())) == 2


def test_save_over_a_corrupt_baseline_needs_force_and_keeps_the_bytes(tmp_path, base):
    path = _write(tmp_path / "m" / "ci.json", "{truncated")
    with pytest.raises(HarnessError, match="--force"):
        baseline.save(base, path)
    assert path.read_text() == "{truncated"
    _, kept = baseline.save(base, path, force=True)
    assert kept.read_text() == "{truncated"
    assert baseline.load(path) == base


def test_describe_change_shows_the_verdict_against_the_replaced_one(base):
    text = baseline.describe_change(base, make_baseline(seed=2000, slow={"train": 1.3}))
    assert "replaced baseline" in text and "train.wall_s" in text and "regressed" in text


@pytest.mark.parametrize("changes, never, forceable", [
    ({}, False, False),
    ({"profile": "smoke"}, False, True),
    ({"repeat": 3}, False, True),
    ({"faults": {"lr_scale": 10.0}}, True, False),
    ({"status": "failed"}, True, False),
])
def test_refusals(changes, never, forceable):
    rec = {**make_record(seed=1, repeat=5), **changes}
    no, forced = baseline.refusals(rec, {"commit": "abc", "dirty": False})
    assert (bool(no), bool(forced)) == (never, forceable)


def test_dirty_tree_is_refused_unless_forced():
    rec = make_record(seed=1, repeat=5)
    with pytest.raises(HarnessError, match="uncommitted"):
        baseline.ensure_recordable(rec, force=False, git={"commit": "abc", "dirty": True})
    baseline.ensure_recordable(rec, force=True, git={"commit": "abc", "dirty": True})


def test_faults_are_refused_even_with_force():
    rec = make_record(seed=1, repeat=5, faults={"ballast_mb": 200})
    with pytest.raises(HarnessError, match="not even with --force"):
        baseline.ensure_recordable(rec, force=True, git={"commit": "abc", "dirty": False})


def test_from_records_pools_every_sample():
    records = [make_record(seed=s, repeat=2, run_id=f"r{s}") for s in range(3)]
    doc = baseline.from_records(records)
    assert doc["provenance"]["runs"] == 6 and doc["provenance"]["run_ids"] == ["r0", "r1", "r2"]
    assert len(record.by_name(doc["record"])["train.wall_s"]["samples"]) == 6


def test_seed_spread_keeps_metric_and_loss_medians_per_seed():
    spread = baseline.seed_spread({42: make_record(seed=1), 43: make_record(seed=2, quality={"ndcg_at_20": 0.17})})
    assert spread["seeds"] == [42, 43]
    assert spread["samples"]["quality.ndcg_at_20"] == [0.1661, 0.17]
    assert "train.wall_s" not in spread["samples"]


# --- commands (the runner replaced by recorded fixtures) --------------------------------------

def cli(argv: list[str]) -> int:
    from harness.commands import baseline as baseline_cmd
    from harness.commands import calibrate, check
    from harness.commands import compare as compare_cmd

    parser = argparse.ArgumentParser(prog="t4rec-bench")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (compare_cmd, check, baseline_cmd, calibrate):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def fake_runner(monkeypatch):
    """harness.runner.run returning fixture records: calls[] records the configs and repeats asked for."""
    from harness import runner

    calls = []

    def run(config, repeat=1, progress=None, command=None):
        calls.append((config, repeat))
        f = config.faults
        slow = {f.slowdown_stage: 1 + f.slowdown_fraction} if f.slowdown_stage else {}
        rec = make_record(seed=len(calls) + 100 * config.seed, repeat=repeat, slow=slow,
                          workload_hash=config.workload_hash(), profile=config.profile,
                          faults=config.faults.active(), run_id=f"run-{len(calls)}")
        return rec

    monkeypatch.setattr(runner, "run", run)
    return calls


def test_compare_command_json_output(tmp_path, base, capsys):
    bpath = _write(tmp_path / "b.json", json.dumps(base))
    run_path = tmp_path / "run.json"
    record.write(make_record(seed=1, slow={"train": 1.2}), run_path)
    out = tmp_path / "verdict.json"
    assert cli(["compare", str(run_path), "--baseline", str(bpath), "--format", "json", "--output", str(out)]) == 1
    assert Verdict.from_dict(json.loads(out.read_text())).overall == "regressed"
    assert "train.wall_s" in capsys.readouterr().out


def test_compare_command_without_a_baseline_exits_3(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record.write(make_record(seed=1), tmp_path / "run.json")
    assert cli(["compare", "run.json", "--machine", "nowhere", "--format", "markdown"]) == 3
    assert "baselines/nowhere/ci.json" in capsys.readouterr().out


def test_compare_command_workload_mismatch_exits_3(tmp_path, base):
    bpath = _write(tmp_path / "b.json", json.dumps(base))
    record.write(make_record(seed=1, workload_hash="1" * 16), tmp_path / "run.json")
    assert cli(["compare", str(tmp_path / "run.json"), "--baseline", str(bpath)]) == 3


def test_baseline_record_then_check(tmp_path, monkeypatch, fake_runner, capsys):
    from harness.commands import baseline as baseline_cmd

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(baseline_cmd, "_repo_git", lambda: {"commit": "abc", "dirty": False})
    assert cli(["baseline", "record", "--profile", "ci", "--repeat", "10", "--seeds", "2", "--machine", "m",
                "--quiet"]) == 0
    doc = baseline.load(tmp_path / "baselines" / "m" / "ci.json")
    assert doc["provenance"]["runs"] == 10 and doc["seed_spread"]["seeds"] == [42, 43, 44]
    assert [c[0].seed for c in fake_runner] == [42, 43, 44]
    assert cli(["baseline", "show", "--profile", "ci", "--machine", "m"]) == 0
    assert "train.wall_s" in capsys.readouterr().out

    code = cli(["check", "--profile", "ci", "--machine", "m", "--quiet", "--no-report",
                "--markdown-out", "summary.md"])
    assert code == 0
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert verdict["overall"] in ("ok", "unstable", "improved")
    assert (tmp_path / "summary.md").read_text().startswith("### ")
    assert len(list((tmp_path / "reports" / "history").glob("*.json"))) == 1

    code = cli(["check", "--profile", "ci", "--machine", "m", "--quiet", "--no-report",
                "--set", "faults.slowdown_stage=train", "--set", "faults.slowdown_fraction=0.2"])
    assert code == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "lr_scale" not in out and "slowdown_stage" in out

    assert cli(["baseline", "record", "--profile", "ci", "--repeat", "10", "--machine", "m", "--quiet"]) == 0
    assert len(list((tmp_path / "baselines" / "m" / "history").glob("*.json"))) == 1
    assert "replaced baseline" in capsys.readouterr().out


def test_baseline_record_refuses_before_running(tmp_path, monkeypatch, fake_runner):
    from harness.commands import baseline as baseline_cmd

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(baseline_cmd, "_repo_git", lambda: {"commit": "abc", "dirty": False})
    with pytest.raises(HarnessError, match="smoke"):
        cli(["baseline", "record", "--profile", "smoke", "--repeat", "5", "--quiet"])
    with pytest.raises(HarnessError, match="injected faults"):
        cli(["baseline", "record", "--profile", "ci", "--repeat", "5", "--force", "--quiet",
             "--set", "faults.ballast_mb=200"])
    assert fake_runner == []
    assert not (tmp_path / "baselines").exists()


def test_check_without_baseline_exits_3_and_still_reports(tmp_path, monkeypatch, fake_runner, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli(["check", "--profile", "ci", "--machine", "none", "--quiet"]) == 3
    assert json.loads((tmp_path / "reports" / "verdict.json").read_text())["overall"] == "missing"
    import importlib.util

    if importlib.util.find_spec("harness.report") is not None:
        assert (tmp_path / "reports" / "index.html").exists(), capsys.readouterr().err
    else:
        assert "report" in capsys.readouterr().err


def test_calibrate_command_on_recorded_runs(tmp_path, capsys):
    folder = tmp_path / "aa"
    for s in range(12):
        record.write(make_record(seed=s, run_id=f"aa-{s}"), folder / f"{s}.json")
    out = tmp_path / "cal.json"
    assert cli(["calibrate", "--records", str(folder), "--baseline-size", "10", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "t4rec-bench/calibration" and doc["comparisons"] == 12
    assert "gate false-positive rate: 0/12" in capsys.readouterr().out


def test_calibrate_needs_enough_runs(tmp_path):
    folder = tmp_path / "aa"
    for s in range(5):
        record.write(make_record(seed=s, run_id=f"aa-{s}"), folder / f"{s}.json")
    with pytest.raises(HarnessError, match="at least"):
        cli(["calibrate", "--records", str(folder), "--baseline-size", "10"])


def test_zero_baseline_median_is_judged_by_the_absolute_floor(base):
    zero = make_baseline()
    for m in zero["record"]["measurements"]:
        if m["name"] == "schema.cpu_s":
            m["samples"], m["value"] = [0.0] * len(m["samples"]), 0.0
    ms = by_name(compare(make_record(seed=1), zero))
    assert ms["schema.cpu_s"].verdict == "ok" and "floor" in ms["schema.cpu_s"].reason


def test_report_only_policy_shows_the_change_but_never_gates(base):
    text = policy.resources.files("harness").joinpath("policies.toml").read_text()
    doc = _toml(text)
    doc["policy"].insert(0, {"name": "train info", "match": ["train.wall_s"], "rule": "report-only"})
    v = compare(make_record(seed=1, slow={"train": 1.5}), base, policy.parse(doc))
    m = by_name(v)["train.wall_s"]
    assert m.verdict == "ok" and "report-only" in m.reason and m.change_pct > 40
    assert any("over 33 measurements" in n for n in v.notes)
