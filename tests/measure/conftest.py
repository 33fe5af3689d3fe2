"""Fixtures of the measurement tests."""

import subprocess

import pytest


@pytest.fixture
def child_pid():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc.pid
    proc.kill()
    proc.wait()
