"""The regression gate: the ci profile against the committed baseline, once per session.

The current code runs ``[gate] repeat`` times, alternating with as many runs of the baseline's
commit in the baseline's environment (the in-session reference, harness/pairing/reference.py; a cross arm
too when the environments differ), and is judged by harness.pairing.gate exactly as `t4rec-bench check`
judges it: times, ranking metrics and loss against the reference, memory and counts against the
committed baseline. Each measurement of the baseline is one test; it
fails when the comparison says ``regressed`` (or the measurement disappeared), with the
table row and the reason, and when it says ``undecided`` unless [gate] on_undecided = "pass" (then it
is reported as an expected failure, xfail: visible, not a pass).
Without a baseline for this machine class every test is skipped, saying how to record one.

    .venv/bin/pytest -m regression            # the gate alone
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "ci"

pytestmark = [pytest.mark.regression, pytest.mark.slow]


def _baseline_path() -> Path:
    from harness.documents import baseline
    from harness.measure import environment as env

    return baseline.default_path(PROFILE, env.machine_class(), ROOT / "baselines")


def _names() -> list[str]:
    """Measurement names of the committed baseline, for parametrisation (collection must not fail)."""
    from harness.documents import baseline
    from harness.errors import HarnessError

    path = _baseline_path()
    try:
        return [m["name"] for m in baseline.load(path)["record"]["measurements"]]
    except HarnessError:
        return ["(no usable baseline)"]


@pytest.fixture(scope="session")
def gate_verdict():
    from harness.config import build_config
    from harness.errors import HarnessError
    from harness.judge import policy
    from harness.pairing import gate

    path, settings = _baseline_path(), policy.load().gate
    if not path.exists():
        pytest.skip(f"no baseline for this machine class at {path.relative_to(ROOT)}: record one with "
                    f"`t4rec-bench baseline record --profile {PROFILE} --repeat {settings.baseline_runs}` and commit it")
    try:
        outcome = gate.run(build_config(PROFILE), settings.repeat, path, command=f"pytest {Path(__file__).name}")
    except HarnessError as exc:
        pytest.fail(f"the gate could not run: {exc}", pytrace=False)
    return outcome.verdict


def test_gate_run_succeeded(gate_verdict):
    if gate_verdict.overall == "failed":
        pytest.fail("; ".join(gate_verdict.notes) or "the ci run failed", pytrace=False)


def test_gate_workload_matches_the_baseline(gate_verdict):
    if not gate_verdict.workload_match:
        pytest.fail("; ".join(gate_verdict.notes), pytrace=False)


@pytest.mark.parametrize("name", _names())
def test_measurement_not_regressed(gate_verdict, name):
    from harness.output import formatters

    m = next((m for m in gate_verdict.measurements if m.name == name), None)
    if m is None:
        pytest.fail(f"{name}: not in the verdict", pytrace=False)
    if m.verdict in ("regressed", "missing", "failed"):
        pytest.fail(f"{name} {m.verdict}: {m.reason}\n\n{formatters.row_table(gate_verdict, name)}", pytrace=False)
    if m.verdict == "undecided":  # never a silent pass: [gate] on_undecided says fail (default) or xfail
        from harness.judge import policy

        notes = "\n".join(gate_verdict.notes)  # the undecided note first: what else used the host, how the pairs ran
        text = f"{name} UNDECIDED: {m.reason}\n\n{formatters.row_table(gate_verdict, name)}\n\n{notes}"
        if policy.load().gate.on_undecided == "pass":
            pytest.xfail(text)
        pytest.fail(text, pytrace=False)
