"""`t4rec-bench check` end to end with an in-session reference: the smoke pipeline for both sides of each
pair, the reference extracted from this repository's HEAD (slow)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.config import build_config
from harness.judge import policy
from harness.pairing import reference

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_check_with_an_in_session_reference_end_to_end(tmp_path, monkeypatch):
    """`check --reference HEAD` on smoke: two pairs in the policy's mode; times against the reference."""
    from harness.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["check", "--profile", "smoke", "--device", "cpu", "--reference", "HEAD", "--repeat", "2",
                 "--baseline", str(tmp_path / "none.json"), "--history", "hist", "--verdict-out", "v.json",
                 "--no-report", "--quiet"])
    verdict = json.loads((tmp_path / "v.json").read_text())
    head = _git(ROOT, "rev-parse", "HEAD")
    prov = verdict["reference_provenance"]
    assert prov["commit"] == head and prov["runs"] == 2
    used, _ = reference.pairing(build_config("smoke", {"device": "cpu"}), 2, policy.load(None).gate.mode)
    assert prov["mode"] == used and prov["host"]["pairs"] == 2  # what else used the host, per pair
    assert 0 <= prov["host"]["parent_pct"]["median"] < 50
    if used in reference.TOGETHER:  # both sides' first stage starts at the launch barrier, when HEAD has one
        head_has_one = bool(_git(ROOT, "ls-tree", "HEAD", "harness/run/barrier.py"))
        assert prov["launch"] == ("the sides started their first stage together, at a barrier, in all 2 pairs"
                                  if head_has_one else "no barrier: the reference code (" + head[:10]
                                  + ") predates the launch barrier; the sides started through the same entry "
                                  "point, in rotating order")
    by_name = {m["name"]: m for m in verdict["measurements"]}
    assert by_name["total.wall_s"]["against"] == "reference"
    assert by_name["quality.ndcg_at_20"]["verdict"] == "ok"  # same code, same seed: exactly equal
    # 3 when the reference commit predates a measurement this tree records; 6 (undecided) when two pairs
    # cannot rule out the equivalence bounds
    assert code in (0, 3, 6)
    assert len(list((tmp_path / "hist").glob("*.json"))) == 1
    assert len(list((tmp_path / "hist" / "reference").glob("*.json"))) == 1
