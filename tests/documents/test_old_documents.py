"""Documents written by older commits still load, compare and render.

Reference runs execute old commits, and committed baselines and fixtures were written before the
current code. Frozen copies, so that re-recording or pruning baselines/ never changes what these
tests read: tests/data/old_documents/ci-20261127T214302.json (the ci baseline recorded at 657a6bf,
copied from baselines/cpu-2c-x86_64/history/ as `baseline record` wrote it, before records had
distributions, numerics and the synthetic/splits fingerprints) and tests/data/report (real runs of
an older commit). Each goes through the loaders' version checks (harness.documents.versions), the
one judge, and the text formatter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.documents import baseline, record, versions
from harness.errors import HarnessError
from harness.judge.decide import verdict_of
from harness.output import formatters

ROOT = Path(__file__).resolve().parents[2]
CI_BASELINE = ROOT / "tests" / "data" / "old_documents" / "ci-20261127T214302.json"  # written at 657a6bf
DATA = ROOT / "tests" / "data" / "report"


def test_an_old_baseline_loads_judges_ok_against_itself_and_renders():
    doc = baseline.load(CI_BASELINE)
    written = json.loads(CI_BASELINE.read_text())
    assert written["record"]["schema_version"] == 1  # the baseline itself needs no upgrade, its record does
    assert doc == {**written, "record": record.upgrade(written["record"])}
    rec = doc["record"]
    assert "numerics" not in rec["environment"] and "splits" not in rec["fingerprints"]  # written before those
    verdict = verdict_of(rec, CI_BASELINE)
    assert verdict.overall == "ok" and verdict.exit_code == 0 and verdict.workload_match
    assert {m.verdict for m in verdict.measurements} == {"ok"}
    text = formatters.table(verdict)
    assert text.startswith("t4rec-bench verdict: OK (exit 0)")
    assert all(m["name"] in text for m in rec["measurements"])


def test_old_fixture_records_load_and_the_faulted_one_regresses_against_the_old_baseline():
    history = sorted((DATA / "history").glob("*.json"))
    assert len(history) == 4
    records = [record.load(p) for p in history]
    written = [record.upgrade(json.loads(p.read_text())) for p in history]
    assert [r == w for r, w in zip(records, written, strict=True)] == [True] * 4
    stored = DATA / "baseline.json"
    assert baseline.load(stored)["record"]["repeat"] == 3
    # 3 baseline runs cannot decide most measurements: undecided (exit 6), never a silent pass
    assert [verdict_of(r, stored).exit_code for r in records] == [6, 6, 6, 1]
    current = record.load(DATA / "current.json")
    verdict = verdict_of(current, stored)
    assert verdict.overall == "regressed" and verdict.exit_code == 1
    text = formatters.table(verdict)
    assert text.startswith("t4rec-bench verdict: REGRESSED (exit 1)")
    regressed = [m.name for m in verdict.measurements if m.verdict == "regressed"]
    assert regressed and all(name in text for name in regressed)
    assert formatters.markdown(verdict).startswith("### 🔴 t4rec-bench: regressed (exit 1)")
    assert json.loads(formatters.to_json(verdict))["overall"] == "regressed"


def test_each_format_has_one_upgrade_per_older_version():
    assert record.FORMAT.upgrades is record.UPGRADES and set(record.UPGRADES) == {1}
    assert baseline.FORMAT.upgrades is baseline.UPGRADES and baseline.UPGRADES == {}
    assert (record.FORMAT.key, record.FORMAT.kind, record.FORMAT.current) == ("schema_version", record.KIND, 2)
    assert (baseline.FORMAT.key, baseline.FORMAT.kind, baseline.FORMAT.current) == ("format_version",
                                                                                     baseline.KIND, 1)


def test_an_older_version_is_read_through_its_upgrades(tmp_path, monkeypatch):
    """A chain of upgrades: a version 0 record and baseline, with an upgrade to 1 registered."""
    calls = []

    def record_0_to_1(doc):
        calls.append("record")
        return {**doc, "schema_version": 1}

    def baseline_0_to_1(doc):
        calls.append("baseline")
        return {**doc, "format_version": 1}

    monkeypatch.setitem(record.UPGRADES, 0, record_0_to_1)
    monkeypatch.setitem(baseline.UPGRADES, 0, baseline_0_to_1)
    doc = json.loads(CI_BASELINE.read_text())
    old = {**doc, "format_version": 0, "record": {**doc["record"], "schema_version": 0}}
    path = tmp_path / "ci.json"
    path.write_text(json.dumps(old))
    current = record.upgrade(doc["record"])
    assert baseline.load(path) == {**doc, "record": current} and calls == ["baseline", "record"]
    path.write_text(json.dumps(old["record"]))
    assert record.load(path) == current
    assert json.loads(path.read_text())["schema_version"] == 0  # reading never rewrites the file


def test_an_old_baseline_no_upgrade_reaches_names_how_to_restore(tmp_path):
    path = tmp_path / "ci.json"
    path.write_text(json.dumps({**json.loads(CI_BASELINE.read_text()), "format_version": 0}))
    with pytest.raises(HarnessError, match="format_version 0 has no upgrade to 1") as info:
        baseline.load(path)
    assert info.value.exit_code == 2 and "git checkout" in str(info.value)


def test_validate_refuses_a_record_of_another_version_in_memory():
    rec = json.loads(CI_BASELINE.read_text())["record"]
    with pytest.raises(HarnessError, match="newer than this harness reads"):
        record.validate({**rec, "schema_version": 99})
    with pytest.raises(HarnessError, match="has no upgrade"):
        record.validate({**rec, "schema_version": 0})
    assert versions.version_of(rec, record.FORMAT) == 1


def test_version_1_calibration_is_read_as_machine_speed_in_its_place():
    written = json.loads(CI_BASELINE.read_text())["record"]
    rec = record.upgrade(written)
    assert rec["schema_version"] == 2 and "calibration" not in rec
    assert rec["machine_speed"] == written["calibration"] and written["calibration"]["speed_s"]
    assert list(rec) == [("machine_speed" if k == "calibration" else k) for k in written]
    assert "calibration" in written and written["schema_version"] == 1  # the input is not modified
    bare = {k: v for k, v in written.items() if k != "calibration"}
    assert "machine_speed" not in record.upgrade(bare)  # the field stays optional


def test_an_old_baseline_still_normalises_by_its_machine_speed():
    """The speed read from a version 1 baseline and run reaches the verdict: the note names both medians."""
    import dataclasses
    import statistics

    from harness.judge import policy
    from harness.judge.compare import compare

    pols = policy.load()
    always = dataclasses.replace(pols, policies=tuple(dataclasses.replace(p, normalise="always")
                                                      for p in pols.policies))
    stored, current = baseline.load(DATA / "baseline.json"), record.load(DATA / "current.json")
    verdict = compare(current, stored, always)
    base_speed = statistics.median(stored["record"]["machine_speed"]["speed_s"])
    note = (f"speed-normalised (machine speed: baseline {base_speed:.3g} s, "
            f"this run {statistics.median(current['machine_speed']['speed_s']):.3g} s)")
    assert any(note in m.reason for m in verdict.measurements if m.name == "total.wall_s")
