"""The compare, check and baseline commands, with the runner replaced by recorded fixtures.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import json
import os

import pytest
from compare_support import BAD_BASELINES, GATE, _write, cli
from verdict_fixtures import make_baseline, make_record

from harness.documents import baseline, record
from harness.errors import HarnessError
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


def test_describe_change_shows_the_verdict_against_the_replaced_one(base):
    from harness.commands.baseline import describe_change

    text = describe_change(base, make_baseline(seed=2000, slow={"train": 1.3}))
    assert "replaced baseline" in text and "train.wall_s" in text and "regressed" in text
