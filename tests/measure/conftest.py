"""Fixtures of the measurement tests."""

import subprocess

import pytest


@pytest.fixture(autouse=True)
def _no_visible_devices_from_the_shell(monkeypatch):
    """The GPU code reads CUDA_VISIBLE_DEVICES: a value in the developer's shell must not change a test."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def child_pid():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc.pid
    proc.kill()
    proc.wait()
