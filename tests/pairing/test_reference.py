"""The in-session reference (harness/pairing/reference.py, harness/pairing/gate.py).

Git is real here (a scratch repository); the end-to-end test runs the smoke pipeline for both
sides, so it is marked slow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.config import build_config
from harness.errors import HarnessError
from harness.pairing import gate
from harness.pairing import reference

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    (repo / "harness").mkdir(parents=True)
    (repo / "harness" / "cli.py").write_text("print('old')\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    (repo / "harness" / "cli.py").write_text("print('new')\n")
    (repo / "untracked.txt").write_text("not in any commit\n")
    return repo


def test_checkout_extracts_the_commit_not_the_working_tree(repo, tmp_path):
    ref = reference.checkout("HEAD", tmp_path / "ref", repo)
    assert ref.commit == _git(repo, "rev-parse", "HEAD") and len(ref.commit) == 40
    assert (ref.code_dir / "harness" / "cli.py").read_text() == "print('old')\n"
    assert not (ref.code_dir / "untracked.txt").exists() and not (ref.code_dir / ".git").exists()


def test_unknown_commit_is_a_clear_error(repo, tmp_path):
    with pytest.raises(HarnessError, match="no such commit: 0123456789abcdef"):
        reference.checkout("0123456789abcdef", tmp_path / "ref", repo)


def test_a_tree_without_the_harness_is_refused(tmp_path):
    repo = tmp_path / "other"
    repo.mkdir()
    (repo / "README").write_text("x\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    with pytest.raises(HarnessError, match="no harness/cli.py"):
        reference.checkout("HEAD", tmp_path / "ref", repo)


def test_reference_argv_carries_the_workload_but_never_the_faults():
    config = build_config("smoke", {"device": "cpu", "data.rows": 20000, "seed": 7, "faults.lr_scale": 10.0,
                                    "faults.slowdown_stage": "train", "faults.slowdown_fraction": 0.2})
    argv = reference.run_argv(config)
    assert argv[:4] == ["--profile", "smoke", "--device", "cpu"]
    assert "data.rows=20000" in argv and "seed=7" in argv
    assert not any("faults" in a for a in argv)
    rebuilt = build_config("smoke", dict(a.split("=", 1) for a in argv[5::2]) | {"device": "cpu"})
    assert rebuilt.workload_hash() == config.workload_hash()


def test_the_current_side_of_a_duet_carries_its_faults():
    config = build_config("smoke", {"device": "cpu", "faults.slowdown_stage": "train", "faults.slowdown_fraction": 0.2})
    argv = reference.run_argv(config, faults=True)
    assert "faults.slowdown_stage=train" in argv and "faults.slowdown_fraction=0.2" in argv
    rebuilt = build_config("smoke", dict(a.split("=", 1) for a in argv[5::2]) | {"device": "cpu"})
    assert rebuilt.faults.active() == config.faults.active()


def test_reference_rev_choice():
    stored = {"provenance": {"commit": "c0ffee"}}
    assert gate.reference_rev("auto", stored) == ("c0ffee", None)
    assert gate.reference_rev("HEAD~1", stored) == ("HEAD~1", None)
    assert gate.reference_rev("none", stored)[0] is None
    rev, why = gate.reference_rev("auto", None)
    assert rev is None and "names no commit" in why


def test_an_unknown_reference_environment_is_refused_before_any_run(tmp_path):
    with pytest.raises(HarnessError, match="--reference-env /no/such/python: no such interpreter") as info:
        gate.run(build_config("smoke", {"device": "cpu"}), 1, tmp_path / "none.json", reference_env="/no/such/python")
    assert info.value.exit_code == 2


def test_a_corrupt_baseline_stops_the_gate_before_any_run(tmp_path):
    bad = tmp_path / "ci.json"
    bad.write_text("{ truncated")
    with pytest.raises(HarnessError, match="truncated or corrupt") as info:
        gate.run(build_config("smoke", {"device": "cpu"}), 1, bad)
    assert info.value.exit_code == 2 and bad.read_text() == "{ truncated"
