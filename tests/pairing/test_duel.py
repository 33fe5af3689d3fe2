"""A duel (harness/pairing/duel.py): two trees, each by its own interpreter, in pairs run by
reference.interleaved and judged after each by the gate's paired decision. The runs are faked here
(reference.run_once); the real ones are in tests/commands/test_bisect.py (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import build_config
from harness.errors import HarnessError
from harness.judge import policy
from harness.pairing import duel, reference

BASE = duel.Side("good", reference.Reference("a" * 40, Path("/tree-a")), "PY-A")
OTHER = duel.Side("bad", reference.Reference("b" * 40, Path("/tree-b")), "PY-B")


def fake_runs(monkeypatch, slow: float = 1.0, fail: str = "", status: str = "ok"):
    """run_once for both sides: ``slow`` scales the other side's value; ``fail`` ("PY-A"/"PY-B") raises."""
    calls = []

    def run_once(code, argv, out, timeout, python=None, started=None, env=None):
        calls.append((code.code_dir, python))
        if python == fail:
            raise HarnessError(f"{code.commit[:10]}: run exited 1: boom")
        wobble = 1 + 0.004 * ((len(calls) * 7919) % 5 - 2)
        value = 20.0 * (slow if python == "PY-B" else 1.0) * wobble
        return {"status": status if python == "PY-B" else "ok", "failure": {"stage": "etl", "kind": "crash",
                                                                           "message": "x"},
                "measurements": [{"name": "total.cpu_s", "value": value, "kind": "time", "higher_is_better": False}]}

    monkeypatch.setattr(reference, "run_once", run_once)
    return calls


def run(**kw):
    return duel.duel(build_config("smoke", {"device": "cpu"}), BASE, OTHER, kw.pop("metric", "total.cpu_s"),
                     policy.load(), mode="alternating", **kw)


def test_each_side_runs_its_own_tree_by_its_own_interpreter_and_a_large_change_stops_early(monkeypatch):
    calls = fake_runs(monkeypatch, slow=1.3)
    lines = []
    result = run(say=lines.append)
    assert {(Path("/tree-a"), "PY-A"), (Path("/tree-b"), "PY-B")} == set(calls)
    assert result.state == "regressed" and result.pairs < 10  # decided long before [gate] repeat
    assert 25 < result.change_pct < 35 and result.low_pct > 0 and not result.higher_is_better
    assert len(result.base) == len(result.other) == result.pairs
    assert lines[-1].startswith(f"  pair {result.pairs}: total.cpu_s +") and "regressed" in lines[-1]


def test_the_same_code_is_ok(monkeypatch):
    fake_runs(monkeypatch, slow=1.0)
    result = run()
    assert result.state == "ok" and result.high_pct < policy.load().gate.max_pairs
    assert "ok" in result.words()


def test_a_failed_run_names_its_side(monkeypatch):
    fake_runs(monkeypatch, fail="PY-B")
    with pytest.raises(duel.SideFailed) as exc:
        run()
    assert exc.value.side == "bad" and exc.value.exit_code == 4 and "boom" in str(exc.value)
    fake_runs(monkeypatch, fail="PY-A")
    with pytest.raises(duel.SideFailed) as exc:
        run()
    assert exc.value.side == "good"
    fake_runs(monkeypatch, status="failed")
    with pytest.raises(duel.SideFailed, match="failed in stage 'etl'") as exc:
        run()
    assert exc.value.side == "bad"


def test_a_measurement_the_runs_lack_is_bad_input_not_a_failed_side(monkeypatch):
    calls = fake_runs(monkeypatch)
    with pytest.raises(HarnessError, match="no measurement 'total.cpu'; did you mean total.cpu_s") as exc:
        run(metric="total.cpu")
    assert not isinstance(exc.value, duel.SideFailed) and len(calls) == 2  # it stopped after the first pair


def test_settings_follow_the_gate_and_pairs():
    g = policy.load().gate
    assert duel.settings(policy.load()) == {"repeat": g.repeat, "min_pairs": g.min_pairs,
                                            "max_pairs": max(g.repeat, g.max_pairs), "design_pairs": g.design_pairs}
    assert duel.settings(policy.load(), 2)["min_pairs"] == min(g.min_pairs, 2)
