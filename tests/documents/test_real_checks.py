"""The real-checks ledger (harness/documents/real_checks.py): appended line by line, read back, bad lines named."""

from __future__ import annotations

import pytest

from harness.documents import real_checks
from harness.errors import HarnessError


def _row(**kw):
    return {"overall": "ok", "plant": "none", "load": "none", "seconds": 200.0, **kw}


def test_rows_are_appended_and_read_back_in_order(tmp_path):
    path = real_checks.default_path("cpu-2c-x86_64", tmp_path)
    assert path == tmp_path / "baselines" / "cpu-2c-x86_64" / "real-checks.jsonl"
    assert real_checks.load(path) == []  # no ledger yet: no checks
    real_checks.append(path, _row(pairs=7))
    real_checks.append(path, _row(pairs=5, overall="regressed", plant="train=0.07"))
    assert [r["pairs"] for r in real_checks.load(path)] == [7, 5]
    assert path.read_text().count("\n") == 2


def test_a_line_that_is_not_a_check_is_named(tmp_path):
    path = tmp_path / "real-checks.jsonl"
    real_checks.append(path, _row())
    with path.open("a") as fh:
        fh.write('{"overall": "ok"\n')
    with pytest.raises(HarnessError, match=r"real-checks.jsonl:2: not a JSON line"):
        real_checks.load(path)
    path.write_text('{"overall": "ok"}\n')
    with pytest.raises(HarnessError, match=r":1: not a real check \(needs overall, plant, load and seconds\)"):
        real_checks.load(path)
    with pytest.raises(ValueError):
        real_checks.append(path, _row(seconds=float("nan")))  # no NaN in a ledger


def test_the_committed_ledger_reads():
    from pathlib import Path

    rows = real_checks.load(Path(__file__).resolve().parents[2] / "baselines" / "cpu-2c-x86_64" / real_checks.NAME)
    assert rows and all(r["profile"] == "ci" and r["primary"] for r in rows)
    assert all((r["plant"] == "none") == (r["plant_kind"] is None) for r in rows)


def test_lines_carry_their_version_and_a_newer_line_is_refused_by_name(tmp_path):
    import json

    path = tmp_path / "real-checks.jsonl"
    real_checks.append(path, _row())
    written = json.loads(path.read_text())
    assert (written["kind"], written["format_version"]) == ("t4rec-bench/real-check", real_checks.FORMAT.current)
    with path.open("a") as fh:  # a line from before the stamp reads as version 1
        fh.write(json.dumps(_row(pairs=9)) + "\n")
    assert [r.get("pairs") for r in real_checks.load(path)] == [None, 9]
    with path.open("a") as fh:
        fh.write(json.dumps({"overall": "ok", "kind": "t4rec-bench/real-check", "format_version": 99}) + "\n")
    with pytest.raises(HarnessError, match=r"real-checks.jsonl:3: real-checks ledger line format_version 99 "
                                           r"is newer than this harness reads"):
        real_checks.load(path)
