"""Shared fixtures. Pipeline runs are expensive on 2 cores: each profile runs once per session."""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", message=r".*dtype mappings did not load.*")


@pytest.fixture(scope="session")
def smoke_record():
    """One real smoke-profile run (about 30-60 s), shared by every test that reads a record."""
    from harness.config import build_config
    from harness.run import runner

    rec = runner.run(build_config("smoke"))
    assert rec["status"] == "ok", rec["failure"]
    return rec
