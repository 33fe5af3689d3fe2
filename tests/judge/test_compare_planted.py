"""Verdicts on planted regressions, quiet-data rules, A/A runs and noise (harness/judge/compare.py).

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import json

import pytest
from compare_support import (
    COMMITTED,
    GATE,
    REALISTIC,
    TRIALS,
    by_name,
    flagged,
    gated,
    judged,
    reference_of,
    regressed,
)
from verdict_fixtures import MiB, make_baseline, make_record

from harness.judge.compare import compare
from harness.judge.verdict import Verdict

# --- planted regressions at realistic noise, default gate configuration -----------------

@pytest.mark.parametrize("stage", ["etl", "train"])
def test_15_percent_slowdown_of_one_stage_is_flagged_on_that_stage(gate_base, stage):
    # A 15% slowdown of one 6%-CV stage sits just above that stage's minimum detectable effect
    # (a secondary measurement with a Bonferroni share of the budget: about 14% at 10 vs 10
    # runs), so it is caught in most gate runs, not all; never on another measurement.
    verdicts = [judged(gated(s, slow={stage: 1.15}), gate_base) for s in TRIALS]
    hits = [v for v in verdicts if by_name(v)[f"{stage}.wall_s"].verdict == "regressed"]
    assert len(hits) >= 0.6 * len(verdicts)
    for v in hits:
        assert by_name(v)[f"{stage}.wall_s"].change_pct > 0 and v.exit_code == 1
    wrong = {n for v in verdicts for n in regressed(v) if n.split(".")[0] not in (stage, "total")}
    assert wrong == set()
    assert all(by_name(v)[f"{stage}.wall_s"].verdict != "improved" for v in verdicts)


@pytest.mark.parametrize("stage", ["etl", "train", "evaluate"])
def test_25_percent_slowdown_of_one_stage_is_flagged_every_time(gate_base, stage):
    verdicts = [judged(gated(s, slow={stage: 1.25}), gate_base) for s in TRIALS]
    assert [by_name(v)[f"{stage}.wall_s"].verdict for v in verdicts] == ["regressed"] * len(verdicts)
    assert all(v.measurements[0].verdict == "regressed" for v in verdicts)  # regressions first


def test_10_percent_slowdown_of_the_whole_pipeline_is_detectable(gate_base):
    every = {s: 1.10 for s in ("imports", "synthetic", "etl", "splits", "schema", "model", "train", "evaluate",
                                "checkpoint")}
    totals = [by_name(judged(gated(s, slow=every), gate_base))["total.wall_s"] for s in TRIALS]
    assert sorted(m.min_detectable_pct for m in totals)[len(totals) // 2] <= 10.0  # the bar
    assert sum(m.verdict == "regressed" for m in totals) >= 0.6 * len(totals)
    assert all(m.verdict != "improved" and m.change_pct > 0 for m in totals)


def test_200_mb_more_memory_is_flagged(gate_base):
    extra = {"train": 200 * MiB, "evaluate": 200 * MiB}
    for s in TRIALS:
        ms = by_name(judged(gated(s, extra_bytes=extra), gate_base))
        for name in ("train.peak_anon_bytes", "evaluate.peak_anon_bytes", "total.peak_anon_bytes"):
            assert ms[name].verdict == "regressed", ms[name].reason
        assert ms["etl.peak_anon_bytes"].verdict == "ok"


def test_memory_is_judged_on_anonymous_rss_against_the_stored_baseline(gate_base):
    # A checkout-dependent offset of file-backed pages moves peak RSS but not anonymous RSS.
    ms = by_name(judged(gated(3), gate_base))
    assert ms["train.peak_anon_bytes"].against == "baseline" and ms["train.peak_anon_bytes"].confidence
    assert ms["train.peak_rss_bytes"].verdict == "ok" and "report-only" in ms["train.peak_rss_bytes"].reason


def test_times_against_a_stored_baseline_get_the_cross_session_threshold(gate_base):
    # Without an in-session reference a time must move beyond cross_session_pct (20%): machine
    # drift between sessions is not a regression. 15% is not flagged, 35% is.
    pol = COMMITTED.for_measurement("train.wall_s", "time")
    assert pol.cross_session_pct == 20.0 and pol.threshold_pct == 5.0
    for s in TRIALS:
        v15 = by_name(compare(gated(s, slow={"train": 1.15}), gate_base))["train.wall_s"]
        assert v15.verdict != "regressed" and v15.threshold_pct == 20.0 and "cross-session" in v15.reason
        assert v15.against == "baseline"
    hits = [by_name(compare(gated(s, slow={"train": 1.35}), gate_base))["train.wall_s"].verdict for s in TRIALS]
    assert hits.count("regressed") >= 0.8 * len(hits)


def test_the_same_slowdown_against_the_in_session_reference_uses_the_5_percent_threshold(gate_base):
    m = by_name(judged(gated(2, slow={"train": 1.15}), gate_base))["train.wall_s"]
    assert m.threshold_pct == 5.0 and m.against == "reference" and "cross-session" not in m.reason


def test_reference_of_another_workload_is_not_used(gate_base):
    other = make_baseline(repeat=GATE.repeat, noise=REALISTIC, workload_hash="d2d2d2d2d2d2d2d2")
    v = compare(gated(1), gate_base, reference=reference_of(other))
    assert all(m.against == "baseline" for m in v.measurements)
    assert any("another workload" in n for n in v.notes) and v.reference_provenance == {}


def test_verdict_names_the_in_session_reference(gate_base):
    from harness.output import formatters

    v = judged(gated(1), gate_base)
    assert v.reference_provenance["commit"] == "ab" * 20
    assert "in-session reference: commit abababab" in formatters.table(v)
    assert "in-session reference: commit abababab" in formatters.markdown(v)
    assert Verdict.from_dict(json.loads(formatters.to_json(v))) == v


def test_ndcg_change_is_flagged_exactly_in_the_gate_configuration(gate_base):
    v = judged(gated(1, quality={"ndcg_at_20": 0.1601}), gate_base)
    m = by_name(v)["quality.ndcg_at_20"]
    assert m.verdict == "regressed" and "exact" in m.reason and v.exit_code == 1


# --- the rules on quiet data (one run against the baseline's noise band) -------------------

@pytest.mark.parametrize("stage", ["etl", "train", "evaluate"])
def test_one_run_against_a_quiet_baseline_flags_a_15_percent_slowdown(base, stage):
    v = judged(make_record(seed=1, slow={stage: 1.15}), base)
    ms = by_name(v)
    assert ms[f"{stage}.wall_s"].verdict == "regressed", ms[f"{stage}.wall_s"].reason
    assert "noise band" in ms[f"{stage}.wall_s"].reason
    assert ms[f"{stage}.wall_s"].change_pct > 0
    assert (v.overall, v.exit_code) == ("regressed", 1)
    others = [n for n in flagged(v) if n.endswith(".wall_s") and n.split(".")[0] not in (stage, "total")]
    assert others == []


def test_ndcg_drop_is_flagged_exactly_in_the_same_environment(base):
    v = judged(make_record(seed=1, quality={"ndcg_at_20": 0.1601}), base)
    m = by_name(v)["quality.ndcg_at_20"]
    assert m.verdict == "regressed" and "exact" in m.reason
    assert v.exit_code == 1


def test_ndcg_rise_is_an_improvement(base):
    v = judged(make_record(seed=1, quality={"ndcg_at_40": 0.2400}), base)
    assert by_name(v)["quality.ndcg_at_40"].verdict == "improved"
    assert v.exit_code != 1  # an improvement never fails (the fixture's 10 runs leave total.wall_s undecided)


def test_any_metric_difference_beyond_1e6_counts_when_deterministic(base):
    tiny = judged(make_record(seed=1, quality={"recall_at_20": 0.3912 + 5e-7}), base)
    small = judged(make_record(seed=1, quality={"recall_at_20": 0.3912 - 5e-6}), base)
    assert by_name(tiny)["quality.recall_at_20"].verdict == "ok"
    assert by_name(small)["quality.recall_at_20"].verdict == "regressed"


def test_loss_rise_is_a_regression(base):
    v = judged(make_record(seed=1, quality={"final_train_loss": 8.5}), base)
    assert by_name(v)["quality.final_train_loss"].verdict == "regressed"


def test_200_mb_more_memory_is_flagged_with_one_run(base):
    extra = {"train": 200 * MiB, "evaluate": 200 * MiB}
    ms = by_name(judged(make_record(seed=1, extra_bytes=extra), base))
    for name in ("train.peak_anon_bytes", "evaluate.peak_anon_bytes", "total.peak_anon_bytes"):
        assert ms[name].verdict == "regressed", ms[name].reason
    assert ms["etl.peak_anon_bytes"].verdict == "ok"


def test_less_memory_is_an_improvement_never_a_regression(base):
    v = judged(make_record(seed=1, extra_bytes={"train": -200 * MiB}), base)
    assert by_name(v)["train.peak_anon_bytes"].verdict == "improved"
    assert v.exit_code != 1


def test_count_change_is_a_regression(base):
    v = judged(make_record(seed=1, quality={"eval_sessions": 990}), base)
    assert by_name(v)["quality.eval_sessions"].verdict == "regressed"


# --- A/A ----------------------------------------------------------------------------

def test_aa_gate_runs_are_not_flagged(gate_base):
    # The family-wise bound is 1% per direction: over 30 gate runs, no regression, and at
    # most one (one-sided, separately tested) improvement.
    verdicts = [judged(gated(s), gate_base) for s in range(1, 31)]
    assert [regressed(v) for v in verdicts] == [[]] * 30
    # 20 alternating pairs at a fixed size cannot rule out 3% for total.wall_s: undecided (exit 6), never 1
    assert all(v.exit_code in (0, 6) for v in verdicts)
    assert sum(bool(flagged(v)) for v in verdicts) <= 1


def test_aa_single_runs_are_not_flagged(base):
    verdicts = [judged(make_record(seed=s), base) for s in range(1, 31)]
    assert [flagged(v) for v in verdicts] == [{}] * 30
    assert all(v.exit_code in (0, 6) for v in verdicts)


def test_times_use_mann_whitney_and_memory_the_t_test_on_logs(gate_base):
    ms = by_name(judged(gated(5), gate_base))
    assert "t on log values" in ms["train.peak_anon_bytes"].reason
    m = ms["train.wall_s"]
    assert f"Mann-Whitney U on log values, {GATE.repeat} runs vs {GATE.repeat} baseline runs" in m.reason
    assert m.against == "reference" and "in-session reference" in m.reason
    assert m.ci_low_pct < 0 < m.ci_high_pct


def test_alpha_is_split_hierarchically_over_the_gated_measurements(gate_base):
    v = judged(gated(1), gate_base)
    levels = {m.name: (1 - m.confidence) / 2 for m in v.measurements
              if m.confidence is not None and m.kind in ("time", "throughput", "memory")}
    assert levels[GATE.primary] == pytest.approx(GATE.alpha_primary)
    others = [a for n, a in levels.items() if n != GATE.primary]
    assert len(set(round(a, 12) for a in others)) == 1  # an equal (Bonferroni) share each
    assert sum(levels.values()) == pytest.approx(GATE.family_alpha)
    assert "schema.wall_s" not in levels and "etl.rows_per_s" not in levels  # report-only: outside
    assert any("(primary)" in n and "Bonferroni" in n for n in v.notes)


def test_gate_interval_agrees_with_the_one_sided_verdict(gate_base):
    for s in TRIALS:
        m = by_name(judged(gated(s, slow={"train": 1.15}), gate_base))["train.wall_s"]
        alpha = (1 - m.confidence) / 2
        assert (m.ci_low_pct > 0) == (m.p_value < alpha)


# --- noise --------------------------------------------------------------------------

def test_change_beyond_threshold_but_within_noise_is_undecided():
    noisy = make_baseline(noise=0.06)
    v = judged(make_record(seed=3, noise=0.06, slow={"train": 1.12}), noisy)
    m = by_name(v)["train.wall_s"]
    assert m.verdict == "undecided"
    assert ("can detect" in m.reason) or ("too noisy" in m.reason)
    assert (v.overall, v.exit_code) == ("undecided", 6)  # never a silent pass


def test_too_noisy_data_says_the_smallest_detectable_change():
    noisy = make_baseline(noise=0.06)
    m = by_name(judged(make_record(seed=4, noise=0.06), noisy))["total.wall_s"]
    assert m.verdict == "undecided"
    assert f"{m.min_detectable_pct:.1f}%" in m.reason
    assert m.min_detectable_pct > 10


def test_one_sample_baseline_is_undecided():
    thin = make_baseline(repeat=1)
    m = by_name(judged(make_record(seed=1, slow={"train": 1.2}), thin))["train.wall_s"]
    assert m.verdict == "undecided" and "--repeat" in m.reason
