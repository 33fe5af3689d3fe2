"""Change detection (harness.judge.changepoints), history loading (harness.judge.history) and `t4rec-bench history`.

Series are seeded and synthetic, with steps planted at known positions; nothing here runs the
pipeline.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from verdict_fixtures import minimal_record

from harness.judge import changepoints, history
from harness.judge.changepoints import Point, Series


def _series(values, higher_is_better=False, threshold_pct=5.0, commits=None, min_change=0.0):
    commits = commits or [f"{i:02d}" * 20 for i in range(len(values))]
    points = tuple(Point(v, c, f"run-{i}") for i, (v, c) in enumerate(zip(values, commits)))
    return Series("etl.wall_s", "test", "s", higher_is_better, points, threshold_pct, min_change)


def _steps(seed, levels, length, noise):
    rng = random.Random(seed)
    return [level * (1 + rng.gauss(0, noise)) for level in levels for _ in range(length)]


LEVELS = (10.0, 12.5, 9.0, 13.0)  # steps of +25%, -28%, +44%


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("method", changepoints.METHODS)
def test_finds_every_planted_step(seed, method):
    values = _steps(seed, LEVELS, 15, noise=0.02)
    found = changepoints.detect(_series(values), method)
    assert [c.index for c in found] == [15, 30, 45]
    assert [c.direction for c in found] == ["regressed", "improved", "regressed"]
    for c, (a, b) in zip(found, zip(LEVELS, LEVELS[1:])):
        assert c.step_pct == pytest.approx(100 * (b - a) / a, abs=4.0)  # 2% noise on each level's median


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("method", changepoints.METHODS)
def test_flat_noisy_series_has_no_change_points(seed, method):
    values = _steps(seed, (10.0,), 60, noise=0.03)
    assert changepoints.detect(_series(values), method) == []


@pytest.mark.parametrize("seed", range(10))
def test_noise_scaled_method_finds_steps_the_size_of_four_sigmas(seed):
    values = _steps(seed, (1.0, 1.2), 20, noise=0.05)  # a 20% step in 5% noise
    (cp,) = changepoints.detect(_series(values), "potts")
    # At four sigmas a point next to the step can lie nearer the other level: one place either way.
    assert abs(cp.index - 20) <= 1 and cp.direction == "regressed"


def test_commit_range_is_last_commit_before_and_first_after():
    values = [10.0] * 6 + [13.0] * 6
    commits = [f"{i:040x}" for i in range(12)]
    (cp,) = changepoints.detect(_series(values, commits=commits))
    assert (cp.commit_before, cp.commit_after) == (commits[5], commits[6])
    assert cp.commit_range == f"{commits[5][:8]}..{commits[6][:8]}"
    assert cp.step_pct == pytest.approx(30.0)
    assert cp.latest and cp.direction == "regressed"


def test_missing_points_are_skipped_and_the_range_spans_them():
    values = [10.0] * 6 + [None, math.nan] + [13.0] * 6
    (cp,) = changepoints.detect(_series(values))
    assert cp.index == 8
    assert cp.label_before == "run-5" and cp.label_after == "run-8"


def test_higher_is_better_drop_is_a_regression():
    (cp,) = changepoints.detect(_series([100.0] * 8 + [80.0] * 8, higher_is_better=True))
    assert cp.direction == "regressed" and cp.step_pct == pytest.approx(-20.0)


def test_one_point_blip_in_the_middle_is_not_a_change_point():
    assert changepoints.detect(_series([10.0] * 10 + [30.0] + [10.0] * 10)) == []


def test_a_jump_at_the_newest_point_is_reported_as_in_effect():
    (cp,) = changepoints.detect(_series([10.0] * 10 + [30.0]))
    assert cp.index == 10 and cp.latest


def test_steps_below_the_threshold_are_not_reported():
    values = [10.0] * 8 + [10.3] * 8  # a clean 3% step
    assert changepoints.detect(_series(values, threshold_pct=5.0)) == []
    assert [c.index for c in changepoints.detect(_series(values, threshold_pct=2.0))] == [8]
    assert changepoints.detect(_series(values, threshold_pct=0.0, min_change=0.5)) == []


def test_a_later_fix_ends_the_regression():
    found = changepoints.detect(_series([10.0] * 6 + [13.0] * 6 + [10.0] * 6))
    assert [(c.direction, c.latest) for c in found] == [("regressed", False), ("improved", True)]


def test_noise_sigma_of_alternating_series():
    assert changepoints.noise_sigma([0.0, 1.0, 0.0, 1.0, 0.0]) == pytest.approx(1 / (0.6745 * math.sqrt(2)))
    assert changepoints.noise_sigma([5.0]) == 0.0


def test_empty_and_constant_series():
    assert changepoints.detect(_series([])) == []
    assert changepoints.detect(_series([None, None])) == []
    assert changepoints.detect(_series([3.0] * 10)) == []


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown change point method"):
        changepoints.detect(_series([1.0, 2.0]), "magic")


# ---- history folder -----------------------------------------------------------------------------


def test_load_records_sorts_by_start_and_skips_bad_files(tmp_path):
    for i in (2, 0, 1):
        (tmp_path / f"z{i}.json").write_text(json.dumps(minimal_record(i, "a" * 40, 1.0)))
    (tmp_path / "truncated.json").write_text('{"schema_version": 1, "kind"')
    (tmp_path / "other.json").write_text('{"hello": 1}')
    future = minimal_record(3, "a" * 40, 1.0) | {"schema_version": 99}
    (tmp_path / "future.json").write_text(json.dumps(future))
    loaded = history.load_records(tmp_path)
    assert [r["run_id"] for r in loaded.records] == ["run-000", "run-001", "run-002"]
    reasons = dict(loaded.skipped)
    assert set(reasons) == {str(tmp_path / n) for n in ("truncated.json", "other.json", "future.json")}
    assert "not valid JSON" in reasons[str(tmp_path / "truncated.json")]
    assert "schema_version 99" in reasons[str(tmp_path / "future.json")]


def test_missing_history_folder_is_empty_not_an_error(tmp_path):
    assert history.load_records(tmp_path / "nope") == history.Loaded((), ())


def test_record_series_split_by_profile_and_take_thresholds_from_policies(tmp_path):
    records = [minimal_record(i, f"{i:040x}", 10.0, profile) for i, profile in enumerate(["nightly", "smoke"] * 3)]
    series = {(s.context, s.metric): s for s in history.record_series(records)}
    contexts = {c for c, _ in series}
    assert len(contexts) == 2 and all(c.startswith("history:") for c in contexts)
    wall = next(s for (c, m), s in series.items() if m == "etl.wall_s" and "nightly" in c)
    assert [p.label for p in wall.points] == ["run-000", "run-002", "run-004"]
    from harness.judge import policy

    policies = policy.load()
    assert wall.threshold_pct == policies.for_measurement("etl.wall_s", "time").threshold_pct
    ndcg = next(s for (c, m), s in series.items() if m == "quality.ndcg_at_20")
    assert ndcg.higher_is_better and ndcg.threshold_pct == 0.0


def test_asv_threshold_matches_like_asv():
    thresholds = {"pipeline\\.Throughput\\.": 0.05, "pipeline\\.Throughput\\..*'synthetic": 0.15}
    assert history.asv_threshold_pct("pipeline.Throughput.track_x('smoke', 'synthetic.rows_per_s')",
                                     thresholds) == pytest.approx(15.0)
    assert history.asv_threshold_pct("pipeline.Throughput.track_x('smoke', 'etl')", thresholds) == pytest.approx(5.0)
    assert history.asv_threshold_pct("stages.X.time_y", thresholds) == pytest.approx(5.0)  # asv's default


def test_in_commit_order_needs_every_commit():
    records = [minimal_record(i, c, 1.0) for i, c in enumerate(["b" * 40, "a" * 40, "c" * 40])]
    order = {"a" * 40: 0, "b" * 40: 1, "c" * 40: 2}
    assert [r["run_id"] for r in history.in_commit_order(records, order)] == ["run-001", "run-000", "run-002"]
    partial = {"a" * 40: 0, "b" * 40: 1}
    assert [r["run_id"] for r in history.in_commit_order(records, partial)] == ["run-000", "run-001", "run-002"]
    assert history.in_commit_order(records, {}) == tuple(records)
