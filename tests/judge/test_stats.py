"""harness.judge.stats on fixed arrays with known answers (t-table values, hand-computed sums)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.judge import rank_power, stats

T_975_4 = 2.7764451051977987  # Student t quantiles from any t table
T_995_4 = 4.604094871415897
T_80_4 = 0.9409645772445783
T_975_2 = 4.302652729696142
T_95_3 = 2.3533634348018264


def test_summary_known_values():
    s = stats.summary([2, 4, 4, 4, 5, 5, 7, 9])
    assert (s.n, s.median, s.mean, s.min, s.max) == (8, 4.5, 5, 2, 9)
    assert s.mad == 0.5
    assert s.stdev == pytest.approx(math.sqrt(32 / 7))
    assert s.cv == pytest.approx(math.sqrt(32 / 7) / 5)
    assert s.robust_cv == pytest.approx(1.4826 * 0.5 / 4.5)


def test_mad_ignores_one_outlier():
    assert stats.mad([1, 2, 3, 4, 100]) == 1


def test_robust_sd_is_scaled_mad_and_ignores_outliers():
    assert stats.robust_sd([1, 2, 3, 4, 100]) == pytest.approx(1.4826)
    assert stats.robust_sd([1, 2, 3, 4, 5]) == stats.robust_sd([1, 2, 3, 4, 5000])
    assert stats.summary([1, 2, 3, 4, 5000]).stdev > 1000


def test_summary_of_one_sample_has_no_spread():
    s = stats.summary([3.0])
    assert (s.stdev, s.cv, s.mad) == (None, None, 0.0)


def test_change_pct():
    assert stats.change_pct(10.0, 11.5) == pytest.approx(15.0)
    assert stats.change_pct(-2.0, -1.0) == pytest.approx(50.0)
    assert stats.change_pct(0.0, 1.0) is None
    assert stats.change_pct(None, 1.0) is None and stats.change_pct(1.0, None) is None


# --- the ratio test ----------------------------------------------------------------------

def test_log_ratio_test_pools_both_groups_by_hand():
    # logs: baseline [-0.1, 0, 0.1] (mean 0), current [0.3, 0.5] (mean 0.4)
    t = stats.log_ratio_test(np.exp([-0.1, 0.0, 0.1]), np.exp([0.3, 0.5]))
    assert (t.n_baseline, t.n_current, t.df) == (3, 2, 3)
    assert t.log_ratio == pytest.approx(0.4)
    assert t.sd_log == pytest.approx(math.sqrt((0.02 + 0.02) / 3))
    assert t.se == pytest.approx(math.sqrt(0.04 / 3) * math.sqrt(1 / 3 + 1 / 2))
    assert t.ratio == pytest.approx(math.exp(0.4))


def test_p_value_matches_scipy_student_t_on_logs():
    from scipy import stats as sp

    base, cur = [10.0, 10.4, 9.8, 10.1, 9.9, 10.2], [10.9, 11.2, 10.6]
    t = stats.log_ratio_test(base, cur)
    ref = sp.ttest_ind(np.log(cur), np.log(base), equal_var=True, alternative="greater").pvalue
    assert stats.p_value(t, higher=True) == pytest.approx(ref)
    assert stats.p_value(t, higher=False) == pytest.approx(1 - ref)


def test_one_current_run_is_the_noise_band_and_its_edge_has_p_alpha():
    logs = [-0.1, 0.0, 0.1, 0.2]  # mean 0.05, sd sqrt(0.05/3); band half-width t(0.95, 3) * sd * sqrt(1 + 1/4)
    edge = 0.05 + T_95_3 * math.sqrt(0.05 / 3) * math.sqrt(1.25)
    t = stats.log_ratio_test(np.exp(logs), [math.exp(edge)])
    assert t.df == 3
    assert stats.p_value(t, higher=True) == pytest.approx(0.05)
    low, high = stats.ratio_bounds(t, 0.05)
    assert low == pytest.approx(1.0)  # the interval touches "no change" exactly at p = alpha


def test_ratio_bounds_agree_with_the_one_sided_test():
    base = [10.0, 10.4, 9.8, 10.1, 9.9, 10.2, 10.0, 9.7]
    for factor in (1.0, 1.02, 1.04, 1.06, 0.95):
        t = stats.log_ratio_test(base, [x * factor for x in base[:4]])
        low, high = stats.ratio_bounds(t, 0.01)
        assert (low > 1) == (stats.p_value(t, higher=True) < 0.01)
        assert (high < 1) == (stats.p_value(t, higher=False) < 0.01)
        assert low < t.ratio < high


def test_log_ratio_test_refuses_non_positive_values_and_no_df():
    assert stats.log_ratio_test([1.0, 0.0, 2.0], [1.0]) is None
    assert stats.log_ratio_test([1.0], [1.0]) is None
    assert stats.log_values([1.0, -1.0]) is None


def test_constant_samples_give_certain_answers():
    t = stats.log_ratio_test([2.0, 2.0, 2.0], [3.0, 3.0])
    assert (stats.p_value(t, higher=True), stats.p_value(t, higher=False)) == (0.0, 1.0)
    same = stats.log_ratio_test([2.0, 2.0, 2.0], [2.0])
    assert stats.p_value(same, higher=True) == 1.0


def test_false_positive_rate_of_the_test_matches_its_level_on_lognormal_data():
    rng = np.random.default_rng(7)
    trials, alpha = 4000, 0.01
    flags = [stats.p_value(stats.log_ratio_test(rng.lognormal(0, 0.08, 10), rng.lognormal(0, 0.08, 3)),
                           higher=True) < alpha for _ in range(trials)]
    assert 0.006 <= sum(flags) / trials <= 0.015


# --- minimum detectable effect and design ------------------------------------------------------

def test_min_detectable_pct_known_value():
    # n_baseline 4, n_current 2: df 4
    k = (T_995_4 + T_80_4) * 0.05 * math.sqrt(1 / 4 + 1 / 2)
    assert stats.min_detectable_pct(0.05, 4, 2, alpha=0.005, power=0.8) == pytest.approx(100 * (math.exp(k) - 1))
    down = stats.min_detectable_pct(0.05, 4, 2, alpha=0.005, power=0.8, increase=False)
    assert down == pytest.approx(100 * (1 - math.exp(-k)))
    assert stats.min_detectable_pct(0.0, 4, 2, 0.005) == 0.0
    assert stats.min_detectable_pct(0.05, 1, 1, 0.005) is None


def test_min_detectable_effect_is_detected_with_its_power():
    rng = np.random.default_rng(11)
    sd, n_b, n_c, alpha, trials = 0.08, 30, 10, 0.01, 3000
    shift = math.log(1 + stats.min_detectable_pct(sd, n_b, n_c, alpha, power=0.8) / 100)
    hits = [stats.p_value(stats.log_ratio_test(rng.lognormal(0, sd, n_b), rng.lognormal(shift, sd, n_c)),
                          higher=True) < alpha for _ in range(trials)]
    assert 0.76 <= sum(hits) / trials <= 0.84


def test_min_detectable_pct_shrinks_with_runs_and_grows_with_noise():
    one = stats.min_detectable_pct(0.08, 10, 1, 0.005)
    assert stats.min_detectable_pct(0.08, 20, 10, 0.005) < stats.min_detectable_pct(0.08, 20, 5, 0.005) < one
    assert stats.min_detectable_pct(0.16, 10, 1, 0.005) > 2 * one  # e^2k - 1 > 2 (e^k - 1)


def test_smallest_design_is_the_first_that_meets_the_limit():
    sd, alpha, limit = 0.08, 0.008, 10.0
    n_c, n_b, mde = stats.smallest_design(sd, alpha, limit)
    assert mde == stats.min_detectable_pct(sd, n_b, n_c, alpha) <= limit
    assert stats.min_detectable_pct(sd, 40, n_c - 1, alpha) > limit  # one fewer new run never suffices
    if n_b > 10:
        assert stats.min_detectable_pct(sd, n_b - 5, n_c, alpha) > limit
    assert stats.smallest_design(0.5, alpha, limit) is None


def test_seed_tolerance_known_value():
    assert stats.seed_tolerance([0.16, 0.17, 0.18], 0.95) == pytest.approx(T_975_2 * 0.01 * math.sqrt(4 / 3))
    assert stats.seed_tolerance([0.16]) is None


# --- A/A bookkeeping ------------------------------------------------------------------------------

def test_false_positive_rate_upper_bound():
    none = stats.false_positive_rate([False] * 20)
    assert (none.count, none.n, none.rate) == (0, 20, 0.0)
    assert none.upper_95 == pytest.approx(1 - 0.05 ** (1 / 20))  # Clopper-Pearson with no events
    one = stats.false_positive_rate([True] + [False] * 19)
    assert one.rate == 0.05 and one.upper_95 > 0.05
    assert stats.false_positive_rate([True, True]).upper_95 == 1.0
    with pytest.raises(ValueError):
        stats.false_positive_rate([])


def test_aa_splits_disjoint_when_the_runs_suffice():
    mode, splits = stats.aa_splits(12, baseline_size=2, current_size=1, comparisons=4, seed=1)
    assert mode == "disjoint" and len(splits) == 4
    used = [i for cur, base in splits for i in cur + base]
    assert len(used) == len(set(used)) == 12


def test_aa_splits_resampled_are_seeded_and_disjoint_within_a_comparison():
    mode, splits = stats.aa_splits(25, baseline_size=10, current_size=5, comparisons=30, seed=3)
    assert mode == "resampled" and len(splits) == 30
    for cur, base in splits:
        assert (len(cur), len(base)) == (5, 10) and not set(cur) & set(base)
        assert max(cur + base) < 25
    assert stats.aa_splits(25, 10, 5, 30, seed=3)[1] == splits
    assert stats.aa_splits(25, 10, 5, 30, seed=4)[1] != splits
    assert len(set(splits)) > 25  # different partitions, not one repeated


def test_aa_splits_refuse_sizes_that_do_not_fit():
    with pytest.raises(ValueError, match="45 runs needed"):
        stats.aa_splits(25, baseline_size=35, current_size=10, comparisons=20)


# --- Mann-Whitney U on log values ---------------------------------------------------------

def test_rank_test_hodges_lehmann_shift_of_separated_groups():
    base = [math.exp(x) for x in (0.0, 0.1, 0.2, 0.3)]
    cur = [math.exp(x) for x in (0.5, 0.6, 0.7, 0.8)]
    t = stats.rank_test(base, cur)
    assert t.n_baseline == t.n_current == 4 and len(t.diffs) == 16
    assert t.log_ratio == pytest.approx(0.5)  # median of the 16 pairwise differences 0.2 .. 0.8
    assert t.sigma_u == pytest.approx(math.sqrt(12))  # 4 * 4 * 9 / 12, no ties


def test_rank_p_value_is_scipys_asymptotic_mann_whitney():
    base = [math.exp(x) for x in (0.0, 0.1, 0.2, 0.3)]
    cur = [math.exp(x) for x in (0.5, 0.6, 0.7, 0.8)]
    # U = 16, mean 8, sd sqrt(12), continuity 0.5: z = 7.5 / 3.4641 = 2.1651, p = 0.01519
    assert stats.rank_p_value(base, cur, higher=True) == pytest.approx(0.015190, abs=1e-5)
    assert stats.rank_p_value(base, cur, higher=False) > 0.98


def test_rank_bounds_exclude_one_exactly_when_the_test_rejects():
    import numpy as np

    for seed in range(200):
        rng = np.random.default_rng(seed)
        base = np.exp(rng.normal(0, 0.07, 12))
        cur = np.exp(rng.normal(rng.uniform(-0.1, 0.2), 0.07, 12))
        t = stats.rank_test(base, cur)
        for alpha in (0.005, 0.0003):
            low, high = stats.rank_bounds(t, alpha)
            assert low <= t.ratio <= high
            assert (low > 1) == (stats.rank_p_value(base, cur, True) < alpha)
            assert (high < 1) == (stats.rank_p_value(base, cur, False) < alpha)


def test_rank_bounds_of_groups_too_small_for_the_level_are_unbounded():
    t = stats.rank_test([1.0, 1.1], [2.0, 2.1])
    assert stats.rank_bounds(t, 0.0001) == (0.0, math.inf)


def test_rank_test_needs_two_positive_values_a_side():
    assert stats.rank_test([1.0], [1.0, 2.0]) is None
    assert stats.rank_test([1.0, 0.0], [1.0, 2.0]) is None


def test_min_detectable_rank_pct_is_where_the_coded_rule_has_its_power():
    # at the returned change, rank_p_value (the rule as coded) flags about 80% of fresh normal samples
    import numpy as np

    sd, nb, nc, alpha = 0.05, 10, 10, 0.025
    mde = rank_power.min_detectable_rank_pct(sd, nb, nc, alpha, 0.8)
    rng = np.random.default_rng(7)  # not the function's own seed: independent draws
    shift = math.log1p(mde / 100)
    flags = [stats.rank_p_value(list(np.exp(rng.normal(0, sd, nb))), list(np.exp(rng.normal(shift, sd, nc))),
                                higher=True) < alpha for _ in range(1500)]
    assert 0.76 <= sum(flags) / len(flags) <= 0.84
    assert rank_power.min_detectable_rank_pct(sd, nb, nc, alpha, 0.8, increase=False) == pytest.approx(
        100 * (1 - math.exp(-shift)))
    assert rank_power.min_detectable_rank_pct(0.05, 1, 10, 0.025) is None


def test_the_rank_rule_flags_exactly_the_samples_whose_u_reaches_the_critical_u():
    # the power simulation counts U against rank_critical_u instead of calling scipy: the same decisions
    rng = np.random.default_rng(11)
    for nb, nc, alpha in ((9, 9, 0.0003125), (35, 8, 0.005), (10, 4, 0.025)):
        critical = rank_power.rank_critical_u(nb, nc, alpha)
        for _ in range(300):
            base, cur = rng.normal(0, 1, nb), rng.normal(rng.uniform(0, 3), 1, nc)
            u = int(sum(c > b for c in cur for b in base))
            flagged = stats.rank_p_value(list(np.exp(base)), list(np.exp(cur)), higher=True) < alpha
            assert flagged == (u >= critical), (nb, nc, alpha, u, critical)
    assert rank_power.rank_critical_u(5, 5, 0.0003125) is None


def test_the_rank_rule_with_too_few_runs_for_its_alpha_detects_nothing():
    # 5 vs 5 runs: even no overlap gives p = 0.0061, so at 0.031% nothing is detectable (the normal
    # approximation used before said 15% at sd 5%: an "ok" with no power)
    assert rank_power.rank_smallest_p(5, 5) == pytest.approx(0.0061, abs=1e-4)
    assert rank_power.min_detectable_rank_pct(0.05, 5, 5, 0.00031) == math.inf
    assert math.isfinite(rank_power.min_detectable_rank_pct(0.05, 10, 10, 0.00031))


def test_paired_log_ratio_test_is_the_t_test_of_the_log_ratios():
    from scipy import stats as sps

    base = [10.0, 12.0, 9.0, 11.0, 10.5]
    cur = [10.9, 13.1, 9.7, 12.2, 11.4]
    t = stats.paired_log_ratio_test(base, cur)
    d = [math.log(c / b) for c, b in zip(cur, base)]
    assert t.df == 4 and t.paired and t.log_ratio == pytest.approx(sum(d) / 5)
    assert t.se == pytest.approx(np.std(d, ddof=1) / math.sqrt(5))
    expected = sps.ttest_rel(np.log(cur), np.log(base), alternative="greater").pvalue
    assert stats.p_value(t, higher=True) == pytest.approx(expected)
    assert stats.paired_log_ratio_test(base, cur[:4]) is None


def test_min_detectable_pct_paired_uses_n_minus_1_degrees_of_freedom():
    paired = stats.min_detectable_pct(0.05, 12, 12, 0.005, df=11)
    unpaired = stats.min_detectable_pct(0.05, 12, 12, 0.005)
    assert paired > unpaired  # fewer degrees of freedom, same se


def test_a_rank_verdict_with_no_power_is_undecided_not_ok():
    # what a GPU smoke A/A showed (2026-12-04): 5 runs against 5 at a Bonferroni share of 0.031% read
    # "ok, within noise" with the interval [-100%, +inf%]; now it says it could not decide
    from harness.documents import record
    from harness.judge.policy import Policy
    from harness.judge.rules import Context
    from harness.judge.significance import significance

    pol = Policy(name="time", rule="significance", test="rank", threshold_pct=20.0, confidence=1 - 2 * 0.00031)
    base = record.measurement("train.wall_s", [8.0, 8.2, 8.9, 9.4, 9.2])
    cur = record.measurement("train.wall_s", [9.4, 9.6, 9.1, 8.7, 8.1])
    ctx = Context(env_match=True, same_machine=True, base_speed=(), cur_speed=())
    v = significance(base, cur, ctx, pol)
    assert v.verdict == "undecided" and "cannot reach alpha" in v.reason, v.reason
    assert v.min_detectable_pct is None and v.ci_high_pct == math.inf
    many = significance(record.measurement("train.wall_s", [8.0, 8.2, 8.9, 9.4, 9.2] * 2),
                        record.measurement("train.wall_s", [9.4, 9.6, 9.1, 8.7, 8.1] * 2),
                        ctx, pol)
    assert many.verdict == "ok" and math.isfinite(many.min_detectable_pct)
