"""The A/A calibration analysis (harness/judge/noise.py) and its document.

Records come from tests/verdict_fixtures.py (seeded, schema-valid); no pipeline runs here. The
`calibrate` command itself is exercised in tests/commands/test_calibrate_command.py.
"""

from __future__ import annotations

import re

import pytest
from verdict_fixtures import make_record

from harness.documents import baseline, record, versions
from harness.documents import calibration as calibration_doc
from harness.judge import policy, rank_power, stats
from harness.judge.compare import compare

GATE = policy.load().gate
# Stage and total times with a CV of about 5-6%, as in tests/compare_support.py (REALISTIC there):
# the noise of a run within a pair of alternating runs on the 2-core runner.
REALISTIC = 0.05


def test_calibrate_analysis_of_aa_records_reports_no_false_gate_failures():
    import dataclasses

    from harness.judge.noise import analyse

    records = [make_record(seed=s, noise=REALISTIC, run_id=f"aa-{s}") for s in range(25)]
    # The fixed-size design table searches up to 10 new runs: give the primary a limit such runs can reach
    # on this synthetic noise (the committed policy's is the sequential gate's equivalence bound).
    pols = policy.load()
    pols = dataclasses.replace(pols, policies=tuple(dataclasses.replace(p, max_mde_pct=10.0) if GATE.primary in p.match
                                                    else p for p in pols.policies))
    result = analyse(records, baseline_size=10, current_size=1, comparisons=40, policies=pols)
    assert result["aa"]["comparisons"] == 40 and result["aa"]["splits"] == "resampled"
    assert result["aa"]["gate_false_positive"]["count"] == 0
    rows = {r["name"]: r for r in result["measurements"]}
    assert rows["schema.wall_s"]["gated"] is False and rows["schema.wall_s"]["alpha"] is None
    assert rows[GATE.primary]["alpha"] == GATE.alpha_primary
    design = result["design"]
    sizes = [(r["current"], r["baseline"]) for r in design["rows"]]
    assert {(1, 10), (1, 20), (5, 20), (10, 20), (GATE.repeat, GATE.baseline_runs)} <= set(sizes)
    mde = {(r["current"], r["baseline"]): r["mde_pct"] for r in design["rows"]}
    assert mde[(1, 10)] > mde[(1, 20)] > mde[(5, 20)] > mde[(10, 20)]
    best = design["smallest"]
    assert best["mde_pct"] <= design["limit_pct"]
    assert design["test"] == "rank"  # total.wall_s: Mann-Whitney U
    assert rank_power.min_detectable_rank_pct(design["sd_log"], best["baseline"], best["current"],
                                         GATE.alpha_primary) == pytest.approx(best["mde_pct"])


def test_calibrate_analysis_counts_planted_changes_as_flags():
    from harness.judge.noise import analyse

    records = [make_record(seed=s, slow={"train": 1.3} if s == 0 else None) for s in range(12)]
    result = analyse(records, baseline_size=10, current_size=1, comparisons=30, seed=2)
    _, splits = stats.aa_splits(12, 10, 1, 30, seed=2)
    slowed_is_current = sum(cur == (0,) for cur, _ in splits)
    assert slowed_is_current > 0
    train = next(r for r in result["measurements"] if r["name"] == "train.wall_s")
    assert train["false_regressed"]["count"] == slowed_is_current
    assert result["aa"]["gate_false_positive"]["count"] == slowed_is_current


def test_calibrate_in_session_design_draws_current_and_reference_from_their_pools():
    from harness.commands.calibrate import render
    from harness.judge.noise import analyse

    current = [make_record(seed=s, noise=REALISTIC, run_id=f"cur-{s}") for s in range(20)]
    reference = [make_record(seed=100 + s, noise=REALISTIC, run_id=f"ref-{s}") for s in range(20)]
    result = analyse(current, baseline_size=GATE.repeat, current_size=GATE.repeat, comparisons=30,
                     reference=reference)
    assert result["reference_runs"] == 20 and result["aa"]["comparisons"] == 30
    assert result["aa"]["splits"] == "resampled, paired" and result["aa"]["disjoint_possible"] == 20 // GATE.repeat
    assert result["aa"]["gate_false_positive"]["count"] == 0
    assert result["design"]["in_session"] is True
    assert (GATE.repeat, GATE.repeat) in [(r["current"], r["baseline"]) for r in result["design"]["rows"]]
    text = render({"profile": "ci", "machine": "m", "policy_source": "p", **result})
    assert f"in-session reference groups of {GATE.repeat}" in text and "reference runs (in-session design)" in text
    assert "paired" in text and result["design"]["paired"] is True


def test_calibrate_in_session_flags_a_planted_slowdown_of_the_current_pool():
    from harness.judge.noise import analyse

    current = [make_record(seed=s, noise=REALISTIC, slow={"train": 1.3}) for s in range(12)]
    reference = [make_record(seed=100 + s, noise=REALISTIC) for s in range(12)]
    result = analyse(current, baseline_size=10, current_size=10, comparisons=10, reference=reference)
    train = next(r for r in result["measurements"] if r["name"] == "train.wall_s")
    assert train["false_regressed"]["count"] == 10


def test_two_pool_splits():
    how, splits = stats.aa_two_pools(30, 30, 10, 10, 3, seed=1)
    assert how == "disjoint" and len(splits) == 3
    assert len({i for cur, _ in splits for i in cur}) == 30 and len({i for _, ref in splits for i in ref}) == 30
    how, splits = stats.aa_two_pools(12, 15, 10, 10, 5, seed=1)
    assert how == "resampled" and all(len(c) == 10 and len(r) == 10 and max(c) < 12 and max(r) < 15
                                      for c, r in splits)
    with pytest.raises(ValueError):
        stats.aa_two_pools(5, 30, 10, 10, 1)


def test_calibrate_ordered_splits_follow_time_order():
    from harness.judge.noise import analyse

    records = [make_record(seed=s, noise=REALISTIC, run_id=f"aa-{s}") for s in range(14)]
    for i, r in enumerate(records):
        r["started_at"] = f"2024-05-01T12:{59 - i:02d}:00+00:00"  # written in reverse order
    result = analyse(records, baseline_size=10, current_size=2, comparisons=100, ordered=True)
    assert result["aa"]["splits"] == "ordered" and result["aa"]["comparisons"] == 14 - 12 + 1


def test_calibrate_analysis_without_enough_runs_still_measures_noise():
    from harness.judge.noise import analyse

    records = [make_record(seed=s, noise=REALISTIC) for s in range(12)]
    result = analyse(records, baseline_size=GATE.baseline_runs, current_size=GATE.repeat)
    assert result["aa"] is None and "cannot hold" in result["aa_note"]
    assert result["design"]["rows"] and all(r["min_detectable_pct"] is None or r["min_detectable_pct"] > 0
                                            for r in result["measurements"])


# --- one definition of the threshold and the detectable effect ------------------------------

def test_the_paired_design_reports_the_threshold_and_mde_the_verdict_applies():
    """The noise rows of the in-session design and a verdict on the same pairs agree: both come from
    harness/judge/significance.py."""
    from harness.judge.noise import analyse
    from harness.judge.significance import threshold_pct

    n = 12
    current = [make_record(seed=s, noise=REALISTIC, run_id=f"cur-{s}") for s in range(n)]
    reference = [make_record(seed=100 + s, noise=REALISTIC, run_id=f"ref-{s}") for s in range(n)]
    rows = {r["name"]: r for r in analyse(current, n, n, comparisons=1, reference=reference)["measurements"]}
    doc = baseline.from_records(reference)
    verdict = compare(record.merge_repetitions(current), doc,
                      reference={"record": doc["record"], "provenance": {"paired": True}})
    checked = 0
    for m in verdict.measurements:
        row = rows[m.name]
        if m.kind not in ("time", "throughput") or row["rule"] != "significance":
            continue
        assert m.against == "reference"
        pol = policy.load().for_measurement(m.name, m.kind)
        # the same rule at each side's median (the verdict's: the reference's; the row's: both pools')
        assert m.threshold_pct == threshold_pct(pol, m.baseline)
        assert row["threshold_pct"] == threshold_pct(pol, row["median"])
        # the same pairs, the same test: the detectable effect is the verdict's (which reports at least its threshold)
        assert m.min_detectable_pct == pytest.approx(max(row["min_detectable_pct"], m.threshold_pct), rel=1e-9)
        checked += 1
    assert checked >= 5  # total and stage wall times, total cpu time


def test_speed_normalisation_is_the_verdicts():
    """A policy that always normalises: the noise rows use significance.at_speed, the verdicts' own scaling."""
    import dataclasses

    from harness.judge.noise import analyse
    from harness.judge.significance import at_speed

    pols = policy.load()
    pols = dataclasses.replace(pols, policies=tuple(dataclasses.replace(p, normalise="always")
                                                    for p in pols.policies))
    records = [make_record(seed=s, noise=REALISTIC) for s in range(6)]
    rows = {r["name"]: r for r in analyse(records, 3, 3, policies=pols, comparisons=1)["measurements"]}
    expect = [at_speed([record.by_name(r)["total.wall_s"]["value"]], r["machine_speed"]["speed_s"], "time", 1.0)[0]
              for r in records]
    assert rows["total.wall_s"]["median"] == pytest.approx(stats.summary(expect).median, rel=1e-12)
    assert rows["total.wall_s"]["cv_normalised"] == pytest.approx(stats.summary(expect).cv, rel=1e-12)


# --- the calibration document --------------------------------------------------------------------

def test_the_calibration_document_reads_back():
    doc = calibration_doc.build("ci", "m", "2026-01-01T00:00:00+00:00", "harness/policies.toml",
                                {"run_ids": ["a"], "runs": 3})
    assert list(doc)[:6] == ["format_version", "kind", "profile", "machine", "date", "policy_source"]
    assert versions.read(doc, calibration_doc.FORMAT) == doc
