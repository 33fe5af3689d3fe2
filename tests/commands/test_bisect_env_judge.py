"""bisect-env judges each step by a duel (harness/pairing/duel.py: the gate's one paired decision,
harness/judge/significance.py paired_look and harness/judge/decide.py stop_pairs), takes the direction from
the record's measurement, and
exits with the codes every command shares (README, "Exit codes"): 1 regressed, 0 not, 6 undecided."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.commands import bisect_env
from harness.config import build_config
from harness.judge import policy
from harness.pairing import reference


def _fake_runs(monkeypatch, slow: float, noise: float, name="total.wall_s", higher_is_better=False):
    calls = {"n": 0}

    def run_once(code, argv, out, timeout, python, started=None, env=None):
        calls["n"] += 1
        wobble = 1 + noise * (((calls["n"] * 7919) % 7) - 3) / 3
        v = 20.0 * (slow if python == "BAD" else 1.0) * wobble
        return {"status": "ok",
                "measurements": [{"name": name, "value": v, "kind": "time", "higher_is_better": higher_is_better}]}

    monkeypatch.setattr(reference, "run_once", run_once)
    return calls


def _step(tmp_path, metric="total.wall_s"):
    return bisect_env._Step(build_config("ci", {"device": "cpu"}), Path("GOOD"), Path("BAD"), tmp_path, 20, metric,
                            policy.load(), lambda s: None, True, "alternating")


def test_a_slower_layer_is_regressed_and_stops_early(monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, slow=1.10, noise=0.005)
    step = _step(tmp_path)
    assert step._pairs(Path("BAD"), ["x"]) is True and "regressed" in step.last
    assert calls["n"] < 2 * 20  # the sequential rule stopped before the pairs ran out


def test_the_same_environment_is_not_a_regression(monkeypatch, tmp_path):
    _fake_runs(monkeypatch, slow=1.0, noise=0.005)
    step = _step(tmp_path)
    assert step._pairs(Path("GOOD"), ["x"]) is False and " ok" in step.last


def test_too_noisy_pairs_are_undecided_not_a_verdict(monkeypatch, tmp_path):
    _fake_runs(monkeypatch, slow=1.02, noise=0.3)
    assert _step(tmp_path)._pairs(Path("BAD"), ["x"]) is None


@pytest.mark.parametrize("outcome, code", [(True, 1), (False, 0), (None, 6)])
def test_exit_codes_mean_what_they_mean_in_every_command(monkeypatch, tmp_path, outcome, code, capsys):
    from harness.cli import main
    from harness.envs import layered as env_layered
    from harness.envs import bisect_packages as envbisect

    monkeypatch.setattr(env_layered, "interpreter_distributions",
                        lambda py: {"a": "1"} if "good" in str(py) else {"a": "2"})
    monkeypatch.setattr(envbisect, "changed", lambda g, b: {"a": ("1", "2")})
    monkeypatch.setattr(bisect_env._Step, "__call__", lambda self, subset: outcome)
    good, bad = tmp_path / "good-python", tmp_path / "bad-python"
    for p in (good, bad):
        p.write_text("")
    assert main(["bisect-env", "--good", str(good), "--bad", str(bad), "--quiet"]) == code
