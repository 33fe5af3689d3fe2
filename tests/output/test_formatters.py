"""Table, markdown and JSON of one fixed verdict, against stored expected files.

After an intended change of the output, regenerate the files and review the diff:
    UPDATE_EXPECTED=1 .venv/bin/pytest tests/output/test_formatters.py
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from harness.documents import verdict as verdictdoc
from harness.judge.verdict import MeasurementVerdict, Verdict
from harness.output import formatters

DATA = Path(__file__).parents[1] / "data"


def _m(name, unit, kind, higher, base, cur, verdict, reason, ci=None, p=None, conf=None, thr=None, mde=None):
    change = None if base is None or cur is None else 100 * (cur - base) / base
    return MeasurementVerdict(name=name, unit=unit, kind=kind, higher_is_better=higher, baseline=base, current=cur,
                              change_pct=change, ci_low_pct=ci[0] if ci else None, ci_high_pct=ci[1] if ci else None,
                              p_value=p, confidence=conf, threshold_pct=thr, min_detectable_pct=mde,
                              verdict=verdict, reason=reason)


def fixed_verdict() -> Verdict:
    ms = (
        _m("train.wall_s", "s", "time", False, 9.5, 10.925, "regressed",
           "15.0% slower: beyond the 5.0% threshold and significant (one-sided p=2.1e-06, alpha 0.01%, "
           "t on log values, 10 runs vs 35 baseline runs; change of the geometric means)",
           ci=(7.1, 23.5), p=2.1e-06, conf=0.9998, thr=5.0, mde=15.8),
        _m("train.peak_rss_bytes", "bytes", "memory", False, 1.35e9, 1.56e9, "regressed",
           "15.6% more memory: beyond the 4.1% threshold and significant (one-sided p=2e-13, alpha 0.01%, "
           "t on log values, 10 runs vs 35 baseline runs; change of the geometric means)",
           ci=(14.2, 16.9), p=2e-13, conf=0.9998, thr=4.1, mde=4.1),
        _m("quality.ndcg_at_20", "1", "metric", True, 0.1661, 0.1601, "regressed",
           "0.006 lower, beyond ±1e-06 (exact: deterministic run, same environment)", thr=0.0006, mde=0.0006),
        _m("quality.ndcg_at_40", "1", "metric", True, 0.2283, None, "missing",
           "the run did not produce this measurement (it disappeared)"),
        _m("checkpoint.wall_s", "s", "time", False, 0.7, 0.83, "undecided",
           "too noisy to decide | the smallest change this data could detect is 41.0% (the policy wants 35.7%)",
           ci=(-2.0, 39.0), p=0.04, conf=0.9998, thr=35.7, mde=41.0),
        _m("etl.rows_per_s", "rows/s", "throughput", True, 41760.0, 45100.0, "improved",
           "8.0% higher throughput: beyond the 5.0% threshold and significant (one-sided p=1e-05, alpha 0.01%, "
           "t on log values, 10 runs vs 35 baseline runs; change of the geometric means)",
           ci=(2.5, 13.4), p=1e-05, conf=0.9998, thr=5.0, mde=6.2),
        _m("quality.eval_sessions", "count", "count", False, 1006.0, 1006.0, "ok", "unchanged", thr=0.0),
        _m("total.wall_s", "s", "time", False, 18.58, 18.6, "ok",
           "within noise (0.1% slower, one-sided p=0.48, alpha 0.8%, t on log values, 10 runs vs 35 baseline runs; "
           "change of the geometric means)",
           ci=(-7.3, 7.2), p=0.48, conf=0.984, thr=5.0, mde=9.8),
    )
    return Verdict(overall="regressed", exit_code=1, run_id="20240501T120000-abc123", profile="ci",
                   baseline_path="baselines/cpu-2c-x86_64/ci.json",
                   baseline_provenance={"date": "2024-04-30T12:00:00+00:00", "commit": "0123456789abcdef",
                                        "env_fingerprint": "feedfacecafebeef", "command": "t4rec-bench baseline "
                                        "record --profile ci --repeat 35", "runs": 35},
                   environment_diff=[("packages.torch", "2.13.0", "2.14.0")], workload_match=True,
                   measurements=ms, notes=("injected faults in this run: slowdown_stage='train'",))


@pytest.mark.parametrize("fmt, filename", [("table", "verdict_table.txt"), ("markdown", "verdict_markdown.md")])
def test_output_matches_the_stored_file(fmt, filename):
    text = getattr(formatters, fmt)(fixed_verdict())
    path = DATA / filename
    if os.environ.get("UPDATE_EXPECTED"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_table_lists_every_measurement_once_with_reason():
    text = formatters.table(fixed_verdict())
    for m in fixed_verdict().measurements:
        assert text.count(f"\n{m.name} ") == 1
        assert m.reason in text
    assert text.startswith("t4rec-bench verdict: REGRESSED (exit 1)")


def test_markdown_escapes_pipes_and_folds_the_full_table():
    text = formatters.markdown(fixed_verdict())
    assert "decide \\| the smallest" in text
    shown, folded = text.split("<details>", 1)
    assert all(f"`{m.name}`" in folded for m in fixed_verdict().measurements)
    assert "`train.wall_s`" in shown and "`total.wall_s`" not in shown  # above the fold: what moved, not the ok rows


def test_row_table_shows_one_measurement_under_the_header():
    lines = formatters.row_table(fixed_verdict(), "train.wall_s").splitlines()
    assert len(lines) == 2 and lines[0].startswith("measurement") and lines[1].startswith("train.wall_s")


def test_json_round_trips_and_has_no_nan():
    v = fixed_verdict()
    text = formatters.to_json(v)
    doc = json.loads(text)
    assert (doc["format_version"], doc["kind"]) == (verdictdoc.FORMAT_VERSION, verdictdoc.KIND)
    assert Verdict.from_dict(doc) == v
    nan = Verdict(**{**v.__dict__, "measurements": (_m("a.wall_s", "s", "time", False, 1.0, float("nan"),
                                                       "undecided", "x"),)})
    assert json.loads(formatters.to_json(nan))["measurements"][0]["current"] is None


@pytest.mark.parametrize("value, unit, text", [
    (1.5 * 2**30, "bytes", "1.50 GiB"), (200 * 2**20, "bytes", "200.0 MiB"), (12.3456, "s", "12.35 s"),
    (41760.4, "rows/s", "41,760 rows/s"), (0.16612, "1", "0.1661"), (1006, "count", "1,006"), (None, "s", "-"),
])
def test_value_formatting(value, unit, text):
    assert formatters.value(value, unit) == text


# ---- the one value formatter, in each style ------------------------------------------------

@pytest.mark.parametrize("x, unit, style, text", [
    (1.5 * 2**30, "bytes", "table", "1.50 GiB"), (300 * 2**20, "bytes", "table", "300.0 MiB"),
    (12.34567, "s", "table", "12.35 s"), (13_761.9, "rows/s", "table", "13,762 rows/s"),
    (1006.0, "count", "table", "1,006"), (0.08211, "1", "table", "0.0821"), (None, "s", "table", "-"),
    (1.5 * 2**30, "bytes", "compact", "1.5 GiB"), (300 * 2**20, "bytes", "compact", "300 MiB"),
    (2048.0, "bytes", "compact", "2 KiB"), (12.0, "bytes", "compact", "12 B"),
    (0.0123, "s", "compact", "12.3 ms"), (12.34, "s", "compact", "12.3 s"),
    (13_761.9, "rows/s", "compact", "13.8k rows/s"), (2.5e6, "samples/s", "compact", "2.5M samples/s"),
    (None, "s", "compact", "–"), (float("nan"), "s", "compact", "–"), (0.08211, "1", "compact", "0.08211"),
    (1.5 * 2**30, "bytes", "series", "1536.0 MiB"), (12.34567, "seconds", "series", "12.35 s"),
    (0.08211, "1", "series", "0.08211"), (0.5, "unit", "series", "0.5"), (1234.5, "rows/s", "series", "1234 rows/s"),
    (None, "s", "series", "-"),
])
def test_value_styles(x, unit, style, text):
    assert formatters.value(x, unit, style) == text


@pytest.mark.parametrize("x, digits, text", [(1234.56, 1, "1,234.6"), (45100.4, 0, "45,100"), (None, 1, "-")])
def test_value_as_a_bare_column_number(x, digits, text):
    assert formatters.value(x, "s", digits=digits) == text


@pytest.mark.parametrize("x, digits, text", [
    (4.25, None, "4.2%"), (12.0, None, "12.0%"), (1234.56, None, "1234.6%"), (None, None, "-"),
    (50.0, 0, "50%"), (0.0, 0, "0%"), (1234.56, 1, "1234.6%"), (None, 0, "-"),
])
def test_value_as_a_percentage(x, digits, text):
    # the calibration tables' percentages: no thousands separators, one decimal unless digits says otherwise
    assert formatters.value(x, "%", digits=digits) == text


# ---- the run's ETL backend (record field etl_backend: "pandas" or "cudf") ----------------------

def _backend_verdict(backend: str | None) -> Verdict:
    return dataclasses.replace(fixed_verdict(), etl_backend=backend)


@pytest.mark.parametrize("backend", ["pandas", "cudf"])
def test_verdict_header_names_the_etl_backend(backend):
    lines = formatters.table(_backend_verdict(backend)).splitlines()
    assert lines[1] == (f"run 20240501T120000-abc123 (profile ci, etl_backend {backend}) "
                        "vs baseline baselines/cpu-2c-x86_64/ci.json")
    assert f"(profile `ci`, etl_backend `{backend}`) against" in formatters.markdown(_backend_verdict(backend))


def test_a_verdict_without_a_backend_says_nothing_of_it():
    # an older record has no etl_backend: the header is the stored file's (no guess)
    assert formatters.table(_backend_verdict(None)) == formatters.table(fixed_verdict())
    assert "etl_backend" not in formatters.markdown(_backend_verdict(None))


def _record() -> dict:
    from harness.documents import record

    return record.load(DATA / "report" / "current.json")


def test_run_summary_names_the_etl_backend_when_the_record_has_it():
    from harness.output.summary import summary_table

    rec = {k: v for k, v in _record().items() if k != "etl_backend"}  # as an older record
    plain = summary_table(rec).splitlines()
    assert "etl_backend" not in plain[0]
    named = summary_table({**rec, "etl_backend": "pandas"}).splitlines()
    assert named[0] == plain[0] + "  etl_backend=pandas"
    assert named[1:] == plain[1:]
