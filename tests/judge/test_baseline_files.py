"""Baseline files (harness/documents/baseline.py): writing, loading, refusing, provenance.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import json

import pytest
from compare_support import BAD_BASELINES, _write
from verdict_fixtures import make_baseline, make_record

from harness.documents import baseline, record
from harness.errors import HarnessError

# --- baseline files ------------------------------------------------------------------------

def test_default_path(tmp_path):
    assert baseline.default_path("ci", "cpu-2c-x86_64", tmp_path) == tmp_path / "cpu-2c-x86_64" / "ci.json"
    assert baseline.default_path("ci").parts[0] == "baselines"


def test_truncated_baseline_message_says_how_to_restore(tmp_path, good_text):
    path = _write(tmp_path / "ci.json", BAD_BASELINES["truncated"](good_text))
    with pytest.raises(HarnessError, match="git checkout"):
        baseline.load(path)


def test_save_keeps_the_replaced_baseline_in_history(tmp_path, base):
    path = tmp_path / "m" / "ci.json"
    assert baseline.save(base, path) == (None, None)
    newer = make_baseline(seed=2000)
    old, kept = baseline.save(newer, path)
    assert old == base and kept.parent == tmp_path / "m" / "history"
    assert json.loads(kept.read_text()) == base
    assert baseline.load(path)["record"]["run_id"] == newer["record"]["run_id"]
    baseline.save(make_baseline(seed=3000), path)
    assert len(list((tmp_path / "m" / "history").iterdir())) == 2


def test_save_over_a_corrupt_baseline_needs_force_and_keeps_the_bytes(tmp_path, base):
    path = _write(tmp_path / "m" / "ci.json", "{truncated")
    with pytest.raises(HarnessError, match="--force"):
        baseline.save(base, path)
    assert path.read_text() == "{truncated"
    _, kept = baseline.save(base, path, force=True)
    assert kept.read_text() == "{truncated"
    assert baseline.load(path) == base


@pytest.mark.parametrize("changes, never, forceable", [
    ({}, False, False),
    ({"profile": "smoke"}, False, True),
    ({"repeat": 3}, False, True),
    ({"faults": {"lr_scale": 10.0}}, True, False),
    ({"status": "failed"}, True, False),
])
def test_refusals(changes, never, forceable):
    rec = {**make_record(seed=1, repeat=5), **changes}
    no, forced = baseline.refusals(rec, {"commit": "abc", "dirty": False})
    assert (bool(no), bool(forced)) == (never, forceable)


def test_dirty_tree_is_refused_unless_forced():
    rec = make_record(seed=1, repeat=5)
    with pytest.raises(HarnessError, match="uncommitted"):
        baseline.ensure_recordable(rec, force=False, git={"commit": "abc", "dirty": True})
    baseline.ensure_recordable(rec, force=True, git={"commit": "abc", "dirty": True})


def test_faults_are_refused_even_with_force():
    rec = make_record(seed=1, repeat=5, faults={"ballast_mb": 200})
    with pytest.raises(HarnessError, match="not even with --force"):
        baseline.ensure_recordable(rec, force=True, git={"commit": "abc", "dirty": False})


def test_from_records_pools_every_sample():
    records = [make_record(seed=s, repeat=2, run_id=f"r{s}") for s in range(3)]
    doc = baseline.from_records(records)
    assert doc["provenance"]["runs"] == 6 and doc["provenance"]["run_ids"] == ["r0", "r1", "r2"]
    assert len(record.by_name(doc["record"])["train.wall_s"]["samples"]) == 6


def test_seed_spread_keeps_metric_and_loss_medians_per_seed():
    spread = baseline.seed_spread({42: make_record(seed=1), 43: make_record(seed=2, quality={"ndcg_at_20": 0.17})})
    assert spread["seeds"] == [42, 43]
    assert spread["samples"]["quality.ndcg_at_20"] == [0.1661, 0.17]
    assert "train.wall_s" not in spread["samples"]
