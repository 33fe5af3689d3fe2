"""harness.stats on fixed arrays with known answers (t-table values, exact rank counts)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import stats

T_975_4 = 2.7764451051977987  # Student t quantiles from any t table
T_995_4 = 4.604094871415897
T_80_4 = 0.9409645772445783
T_975_2 = 4.302652729696142


def test_summary_known_values():
    s = stats.summary([2, 4, 4, 4, 5, 5, 7, 9])
    assert (s.n, s.median, s.mean, s.min, s.max) == (8, 4.5, 5, 2, 9)
    assert s.mad == 0.5
    assert s.stdev == pytest.approx(math.sqrt(32 / 7))
    assert s.cv == pytest.approx(math.sqrt(32 / 7) / 5)
    assert s.robust_cv == pytest.approx(1.4826 * 0.5 / 4.5)


def test_mad_ignores_one_outlier():
    assert stats.mad([1, 2, 3, 4, 100]) == 1


def test_summary_of_one_sample_has_no_spread():
    s = stats.summary([3.0])
    assert (s.stdev, s.cv, s.mad) == (None, None, 0.0)


def test_change_pct():
    assert stats.change_pct(10.0, 11.5) == pytest.approx(15.0)
    assert stats.change_pct(-2.0, -1.0) == pytest.approx(50.0)
    assert stats.change_pct(0.0, 1.0) is None


def test_mann_whitney_complete_separation_is_exact():
    # U = 0 with 5 vs 5: two-sided exact p = 2 / C(10, 5)
    assert stats.mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert stats.mann_whitney_p([1, 1, 1], [1, 1]) == 1.0


def test_min_mann_whitney_p():
    assert stats.min_mann_whitney_p(5, 5) == pytest.approx(2 / 252)
    assert stats.min_mann_whitney_p(3, 1) == pytest.approx(0.5)
    assert stats.min_mann_whitney_p(1, 1) == 1.0


def test_noise_band_is_a_t_prediction_interval():
    band = stats.noise_band([1, 2, 3, 4, 5], confidence=0.95, n_current=1)
    half = T_975_4 * math.sqrt(2.5) * math.sqrt(1 / 5 + 1)
    assert band.center == 3
    assert band.half_width == pytest.approx(half)
    assert (band.low, band.high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert stats.noise_band([1.0], 0.95) is None


def test_noise_band_narrows_for_a_mean_of_several_runs():
    one = stats.noise_band([1, 2, 3, 4, 5], 0.95, 1).half_width
    three = stats.noise_band([1, 2, 3, 4, 5], 0.95, 3).half_width
    assert three == pytest.approx(one * math.sqrt(1 / 5 + 1 / 3) / math.sqrt(1 / 5 + 1))


def test_band_p_value_at_the_band_edge_is_alpha():
    base = [1, 2, 3, 4, 5]
    band = stats.noise_band(base, 0.95)
    assert stats.band_p_value(base, band.high) == pytest.approx(0.05)
    assert stats.band_p_value(base, band.center) == pytest.approx(1.0)
    assert stats.band_p_value([2, 2, 2], 2.0) == 1.0
    assert stats.band_p_value([2, 2, 2], 2.1) == 0.0


def test_band_false_positive_rate_matches_its_level_on_normal_data():
    rng = np.random.default_rng(7)
    trials = 4000
    flags = [stats.band_p_value(rng.normal(10, 1, 10), rng.normal(10, 1)) < 0.01 for _ in range(trials)]
    assert 0.004 <= sum(flags) / trials <= 0.018


def test_bootstrap_ratio_ci_of_constant_samples_is_the_ratio():
    assert stats.bootstrap_ratio_ci([2, 2, 2], [3, 3, 3]) == (pytest.approx(1.5), pytest.approx(1.5))


def test_bootstrap_ratio_ci_is_seeded_and_covers_a_known_shift():
    base = [10.0, 10.4, 9.8, 10.1, 9.9, 10.2, 10.0, 9.7]
    cur = [x * 1.2 for x in base]
    ci = stats.bootstrap_ratio_ci(base, cur, 0.95, seed=3)
    assert ci == stats.bootstrap_ratio_ci(base, cur, 0.95, seed=3)
    assert ci[0] < 1.2 < ci[1]
    assert ci[0] > 1.1


def test_bootstrap_ratio_ci_none_for_a_zero_baseline():
    assert stats.bootstrap_ratio_ci([0, 0, 0], [1, 2, 3]) is None


def test_min_detectable_pct_known_value():
    mde = stats.min_detectable_pct([1, 2, 3, 4, 5], n_current=1, confidence=0.99, power=0.8)
    assert mde == pytest.approx(100 * (T_995_4 + T_80_4) * math.sqrt(2.5) * math.sqrt(1.2) / 3)
    assert stats.min_detectable_pct([4, 4, 4]) == 0.0
    assert stats.min_detectable_pct([4.0]) is None


def test_seed_tolerance_known_value():
    assert stats.seed_tolerance([0.16, 0.17, 0.18], 0.95) == pytest.approx(T_975_2 * 0.01 * math.sqrt(4 / 3))


def test_false_positive_rate_upper_bound():
    none = stats.false_positive_rate([False] * 20)
    assert (none.count, none.n, none.rate) == (0, 20, 0.0)
    assert none.upper_95 == pytest.approx(1 - 0.05 ** (1 / 20))  # Clopper-Pearson with no events
    one = stats.false_positive_rate([True] + [False] * 19)
    assert one.rate == 0.05 and one.upper_95 > 0.05
    assert stats.false_positive_rate([True, True]).upper_95 == 1.0
    with pytest.raises(ValueError):
        stats.false_positive_rate([])


def test_aa_splits():
    assert stats.aa_splits(4, 2) == [((0,), (1, 2)), ((1,), (2, 3)), ((2,), (3, 0)), ((3,), (0, 1))]
    assert stats.aa_splits(3) == [((0,), (1, 2)), ((1,), (2, 0)), ((2,), (0, 1))]
    assert stats.aa_splits(5, 2, current_size=2)[0] == ((0, 1), (2, 3))
    with pytest.raises(ValueError):
        stats.aa_splits(5, 5)
