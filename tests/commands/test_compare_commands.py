"""The compare, check and calibrate commands, with the runner replaced by recorded fixtures.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import json
import re

import pytest
from compare_support import (
    GATE,
    REALISTIC,
    _toml,
    _write,
    by_name,
    cli,
)
from verdict_fixtures import make_baseline, make_record

from harness.documents import baseline, record
from harness.errors import HarnessError
from harness.judge import policy
from harness.judge.compare import compare
from harness.judge.verdict import Verdict

# --- commands (the runner replaced by recorded fixtures) --------------------------------------


def test_compare_command_json_output(tmp_path, base, capsys):
    bpath = _write(tmp_path / "b.json", json.dumps(base))
    run_path = tmp_path / "run.json"
    record.write(make_record(seed=1, slow={"train": 1.3}), run_path)  # beyond the 20% cross-session floor
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
    assert fake_runner[-1][1] == GATE.repeat  # check's default repetitions: the gate configuration
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert verdict["overall"] in ("ok", "undecided", "improved")
    assert (tmp_path / "summary.md").read_text().startswith("### ")
    assert len(list((tmp_path / "reports" / "history").glob("*.json"))) == 1

    code = cli(["check", "--profile", "ci", "--machine", "m", "--quiet", "--no-report",
                "--set", "faults.slowdown_stage=train", "--set", "faults.slowdown_fraction=0.35"])
    assert code == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "lr_scale" not in out and "slowdown_stage" in out
    # the baseline names commit "abc", which is not in this repository: no in-session reference
    assert "no in-session reference" in out and "cross-session threshold" in out

    assert cli(["baseline", "record", "--profile", "ci", "--machine", "m", "--quiet"]) == 0
    assert fake_runner[-1][1] == GATE.baseline_runs  # baseline record's default: the gate configuration
    assert baseline.load(tmp_path / "baselines" / "m" / "ci.json")["provenance"]["runs"] == GATE.baseline_runs
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

    if importlib.util.find_spec("harness.output.report") is not None:
        assert (tmp_path / "reports" / "index.html").exists(), capsys.readouterr().err
    else:
        assert "report" in capsys.readouterr().err


def _aa_folder(tmp_path, n: int):
    folder = tmp_path / "aa"
    for s in range(n):
        record.write(make_record(seed=s, noise=REALISTIC, run_id=f"aa-{s}"), folder / f"{s}.json")
    return folder


def test_calibrate_command_on_recorded_runs(tmp_path, capsys):
    folder, out = _aa_folder(tmp_path, 12), tmp_path / "cal.json"
    assert cli(["calibrate", "--records", str(folder), "--baseline-size", "10", "--current-size", "1",
                "--comparisons", "20", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "t4rec-bench/calibration" and doc["aa"]["comparisons"] == 20
    text = capsys.readouterr().out
    assert "gate false-positive rate: 0/20" in text and "resampled splits (seed 0" in text
    limit = policy.load().for_measurement(policy.load().gate.primary, "time").max_mde_pct
    assert re.search(rf"(smallest configuration with|no configuration .* reaches) MDE <= {limit:g}%", text)
    for cur, base_ in ((1, 10), (1, 20), (5, 20), (10, 20)):
        assert re.search(rf"^ +{cur} +{base_} +\d+\.\d%", text, re.M)


def test_calibrate_defaults_to_the_gate_configuration_and_says_when_it_does_not_fit(tmp_path, capsys):
    folder, out = _aa_folder(tmp_path, 12), tmp_path / "cal.json"
    assert cli(["calibrate", "--records", str(folder), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["current_size"], doc["baseline_size"]) == (GATE.repeat, GATE.baseline_runs)
    assert doc["aa"] is None
    text = capsys.readouterr().out
    assert "false-positive rate not estimated" in text and "<- [gate] default" in text


def test_calibrate_needs_a_few_runs(tmp_path):
    with pytest.raises(HarnessError, match="at least 3"):
        cli(["calibrate", "--records", str(_aa_folder(tmp_path, 2)), "--baseline-size", "1", "--current-size", "1"])


def test_zero_baseline_median_is_judged_by_the_absolute_floor(base):
    zero = make_baseline()
    for m in zero["record"]["measurements"]:
        if m["name"] == "schema.cpu_s":
            m["samples"], m["value"] = [0.0] * len(m["samples"]), 0.0
    doc = _toml(policy.resources.files("harness").joinpath("policies.toml").read_text())
    doc["policy"] = [p for p in doc["policy"] if p.get("rule") != "report-only"]  # gate schema.cpu_s
    ms = by_name(compare(make_record(seed=1), zero, policy.parse(doc)))
    assert ms["schema.cpu_s"].verdict == "ok" and "floor" in ms["schema.cpu_s"].reason


def test_short_stages_and_reciprocal_throughputs_are_report_only(base):
    slow = {s: 3.0 for s in ("synthetic", "splits", "schema", "model", "checkpoint")}
    v = compare(make_record(seed=1, slow=slow), base)
    ms = by_name(v)
    for name in ("schema.wall_s", "model.cpu_s", "synthetic.rows_per_s", "checkpoint.wall_s", "etl.rows_per_s"):
        assert ms[name].verdict == "ok" and "report-only" in ms[name].reason, name
    assert ms["checkpoint.wall_s"].change_pct > 100
    assert ms["total.wall_s"].change_pct > 0  # their time still counts in the total


def _family_size(verdict) -> int:
    note = next(n for n in verdict.notes if "Bonferroni" in n)
    return int(re.search(r"the (\d+) other gated measurements", note).group(1))


def test_report_only_policy_shows_the_change_but_never_gates(base):
    text = policy.resources.files("harness").joinpath("policies.toml").read_text()
    doc = _toml(text)
    doc["policy"].insert(0, {"name": "train info", "match": ["train.wall_s"], "rule": "report-only"})
    v = compare(make_record(seed=1, slow={"train": 1.5}), base, policy.parse(doc))
    m = by_name(v)["train.wall_s"]
    assert m.verdict == "ok" and "report-only" in m.reason and m.change_pct > 40
    assert _family_size(v) == _family_size(compare(make_record(seed=1), base)) - 1  # outside the family
