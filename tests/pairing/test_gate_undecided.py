"""An undecided check, end to end through harness/pairing/gate.py with a noisy fake pair source: it goes on past
[gate] repeat only while the cap could decide, exits 6 (EXIT_UNDECIDED), and its headline and note say
UNDECIDED, what each measurement rules out, and what else used the host; [gate] on_undecided = "pass"
keeps the headline and exits 0."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from verdict_fixtures import make_baseline, make_record

from harness.config import build_config
from harness.errors import EXIT_UNDECIDED
from harness.judge import policy
from harness.output import formatters
from harness.pairing import gate
from harness.pairing import reference as referencemod

POLICIES = __import__("pathlib").Path(__file__).resolve().parents[2] / "harness" / "policies.toml"
GATE = policy.committed_gate()


@pytest.fixture
def noisy_pairs(monkeypatch, tmp_path):
    """gate.run's reference and pairs faked: each pair's sides carry independent noise of ``noise``."""
    state = {"noise": 0.05, "pairs": 0}
    monkeypatch.setattr(referencemod, "checkout", lambda rev, dest: SimpleNamespace(commit="ab" * 20, code_dir=dest))

    def interleaved(config, repeat, arms, progress=None, command=None, mode="duet", stop=None, period_s=None,
                    pairs_log=None, barrier_timeout_s=None):
        cur, ref = [], []
        for i in range(repeat):
            cur.append(make_record(seed=1000 + i, noise=state["noise"], run_id=f"20240501T120000-c{i:05d}"))
            ref.append(make_record(seed=5000 + i, noise=state["noise"], run_id=f"20240501T120000-r{i:05d}"))
            if pairs_log is not None:
                pairs_log.append({"round": i, "mode": mode, "seconds": 1.0, "others_pct": 40.0, "steal_pct": 0.0,
                                  "parent_pct": 2.0, "load1": 2.5})
            state["pairs"] = i + 1
            if stop is not None and stop(cur, {"reference": ref}):
                break
        return cur, {"reference": ref}, None

    monkeypatch.setattr(referencemod, "interleaved", interleaved)
    path = tmp_path / "ci.json"
    path.write_text(json.dumps(make_baseline(repeat=10)))
    return state, path


def _policies(tmp_path, **gate_keys):
    """policies.toml with these keys of the [gate] table replaced (the other tables untouched)."""
    lines = POLICIES.read_text().splitlines()
    start = lines.index("[gate]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [line for line in lines[start:end] if line.split(" = ")[0] not in gate_keys]
    text = "\n".join([*lines[:start], *(f"{k} = {json.dumps(v)}" for k, v in gate_keys.items()), *body,
                      *lines[end:]]) + "\n"
    out = tmp_path / "policies.toml"
    out.write_text(text)
    return out


def test_a_noisy_check_ends_undecided_with_exit_6_and_says_why(noisy_pairs, tmp_path):
    state, path = noisy_pairs
    pols = _policies(tmp_path, repeat=8, max_pairs=12)
    out = gate.run(build_config("ci", {"device": "cpu"}), 8, path, policies_path=pols, reference="HEAD",
                   reference_env="current", mode="duet")
    v = out.verdict
    assert (v.overall, v.exit_code) == ("undecided", EXIT_UNDECIDED)
    assert 8 <= state["pairs"] <= 12
    total = next(m for m in v.measurements if m.name == GATE.primary)
    assert total.verdict == "undecided" and "rules out only a worsening beyond" in total.reason
    text = formatters.table(v)
    assert text.startswith("t4rec-bench verdict: UNDECIDED (exit 6)")
    doc = json.loads(formatters.to_json(v))  # the verdict file, as `check --verdict-out` writes it
    assert doc["overall"] == "undecided" and isinstance(total.decidable, bool)
    note = next(n for n in v.notes if n.startswith("UNDECIDED after"))
    assert f"{GATE.primary}: undecided" in note and "other processes 40.0% of a CPU" in note


def test_on_undecided_pass_keeps_the_headline_and_exits_0(noisy_pairs, tmp_path):
    state, path = noisy_pairs
    pols = _policies(tmp_path, repeat=8, max_pairs=8, on_undecided="pass")
    v = gate.run(build_config("ci", {"device": "cpu"}), 8, path, policies_path=pols, reference="HEAD",
                 reference_env="current", mode="duet").verdict
    assert (v.overall, v.exit_code) == ("undecided", 0) and state["pairs"] == 8
    assert formatters.table(v).startswith("t4rec-bench verdict: UNDECIDED (exit 0)")


def test_a_quiet_check_stops_ok_before_repeat(noisy_pairs, tmp_path):
    state, path = noisy_pairs
    state["noise"] = 0.002
    v = gate.run(build_config("ci", {"device": "cpu"}), 20, path, reference="HEAD", reference_env="current",
                 mode="duet").verdict
    assert state["pairs"] < 20 and v.exit_code in (0,) and v.overall in ("ok", "improved")
