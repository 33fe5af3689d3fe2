"""Shared fixtures. Pipeline runs are expensive on 2 cores: each profile runs once per session.

The verdict fixtures (tests/verdict_fixtures.py, tests/compare_support.py), for the judge's tests and
the commands': ``base`` (quiet: 1% jitter, 10 runs), ``gate_base`` (the gate's realistic setting,
[gate] repeat runs), ``fake_runner`` and ``good_text``."""

from __future__ import annotations

import json
import warnings

import pytest
from compare_support import GATE, REALISTIC
from verdict_fixtures import make_baseline, make_record

warnings.filterwarnings("ignore", message=r".*dtype mappings did not load.*")


@pytest.fixture(scope="session")
def smoke_record():
    """One real smoke-profile run (about 30-60 s), shared by every test that reads a record."""
    from harness.config import build_config
    from harness.run import runner

    rec = runner.run(build_config("smoke"))
    assert rec["status"] == "ok", rec["failure"]
    return rec


@pytest.fixture(scope="module")
def base():
    return make_baseline()


@pytest.fixture(scope="module")
def gate_base():
    """The stored baseline and, through judged(), the in-session reference of the gate: [gate] repeat runs."""
    return make_baseline(repeat=GATE.repeat, noise=REALISTIC)


@pytest.fixture
def fake_runner(monkeypatch):
    """harness.run.runner.run returning fixture records: calls[] records the configs and repeats asked for."""
    from harness.run import runner

    calls = []

    def run(config, repeat=1, progress=None, command=None, environment=None):
        calls.append((config, repeat))
        f = config.faults
        slow = {f.slowdown_stage: 1 + f.slowdown_fraction} if f.slowdown_stage else {}
        rec = make_record(seed=len(calls) + 100 * config.seed, repeat=repeat, slow=slow,
                          workload_hash=config.workload_hash(), profile=config.profile,
                          faults=config.faults.active(), run_id=f"run-{len(calls)}")
        return rec

    monkeypatch.setattr(runner, "run", run)
    return calls


@pytest.fixture
def good_text(base) -> str:
    return json.dumps(base)
