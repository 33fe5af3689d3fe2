"""`t4rec-bench check --profile-on-regression {on,off}` (harness/commands/check.py), with the runner
replaced by recorded fixtures (tests/verdict_fixtures.py) as in tests/judge/test_compare_commands.py:
no pipeline runs here. Without an in-session reference a time regression's profile says why there is
none; off writes no profile; a bad value is one error line and exit 2."""

from __future__ import annotations

import json

import pytest
from verdict_fixtures import make_baseline, make_record

from harness.cli import main as cli
from harness.errors import EXIT_ERROR, EXIT_REGRESSED

SLOW_TRAIN = ["--set", "faults.slowdown_stage=train", "--set", "faults.slowdown_fraction=0.35"]


@pytest.fixture
def checked(monkeypatch, tmp_path):
    """Run `check` on fixture records against a fixture baseline; the verdict document it wrote."""
    from harness.run import runner

    def run(config, repeat=1, progress=None, command=None, environment=None):
        f = config.faults
        return make_record(seed=7, repeat=repeat, slow={f.slowdown_stage: 1 + f.slowdown_fraction},
                           faults=config.faults.active())  # the fixture baseline's workload

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ci.json").write_text(json.dumps(make_baseline(repeat=10)))

    def check(*extra: str) -> tuple[int, dict]:
        code = cli(["check", "--profile", "ci", "--baseline", "ci.json", "--reference", "none", "--quiet",
                    "--no-report", "--verdict-out", "out/verdict.json", *SLOW_TRAIN, *extra])
        return code, json.loads((tmp_path / "out" / "verdict.json").read_text())
    return check


def test_a_time_regression_without_a_reference_says_why_it_has_no_profile(checked):
    code, doc = checked()
    assert code == EXIT_REGRESSED
    prof = doc["profile_diff"]
    assert "train.wall_s" in prof["trigger"]
    assert prof["skipped"] == "no in-session reference ran to profile against"
    assert (prof["stages"], prof["folded"]) == ([], None)


def test_off_writes_no_profile(checked):
    code, doc = checked("--profile-on-regression=off")
    assert code == EXIT_REGRESSED and doc["profile_diff"] is None


def test_a_bad_value_is_one_error_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["check", "--profile-on-regression", "maybe"])
    assert exit_.value.code == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: argument --profile-on-regression: invalid choice: 'maybe'")
