"""Verdicts on missing, incomparable and failed runs, environment differences and normalisation,
and the Verdict object.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import json
import re
from importlib import resources

from compare_support import (
    _toml,
    by_name,
    flagged,
    judged,
)
from verdict_fixtures import environment, make_baseline, make_record

from harness.judge import policy
from harness.judge.compare import compare, no_baseline
from harness.judge.verdict import SEVERITY, Verdict

# --- missing, incomparable, failed ------------------------------------------------------

def test_disappeared_measurement_is_missing(base):
    v = compare(make_record(seed=1, drop=("quality.ndcg_at_40",)), base)
    assert by_name(v)["quality.ndcg_at_40"].verdict == "missing"
    assert "disappeared" in by_name(v)["quality.ndcg_at_40"].reason
    assert (v.overall, v.exit_code) == ("missing", 3)


def test_new_measurement_without_baseline_is_missing():
    old = make_baseline(drop=("etl.rows_per_s",))
    v = compare(make_record(seed=1), old)
    assert by_name(v)["etl.rows_per_s"].verdict == "missing"
    assert by_name(v)["etl.rows_per_s"].current is not None


def test_workload_mismatch_is_incomparable(base):
    v = compare(make_record(seed=1, workload_hash="0" * 16), base)
    assert {m.verdict for m in v.measurements} == {"incomparable"}
    assert (v.overall, v.exit_code, v.workload_match) == ("incomparable", 3, False)
    assert any("workload differs" in n for n in v.notes)


def test_failed_run_is_failed_with_exit_4(base):
    v = compare(make_record(seed=1, status="failed", drop=("quality.ndcg_at_20",)), base)
    assert (v.overall, v.exit_code) == ("failed", 4)
    assert by_name(v)["quality.ndcg_at_20"].verdict == "failed"
    assert any("failed" in n for n in v.notes)


def test_no_baseline_is_missing_with_exit_3():
    v = no_baseline(make_record(seed=1), "baselines/x/ci.json", "no baseline")
    assert (v.overall, v.exit_code) == ("missing", 3)


def test_injected_faults_are_noted(base):
    v = compare(make_record(seed=1, faults={"lr_scale": 10.0}), base)
    assert any("lr_scale" in n for n in v.notes)


# --- environment differences and normalisation -------------------------------------------

def test_torch_upgrade_still_compares_times_and_lists_the_difference(base):
    upgraded = environment(**{"packages.torch": "2.14.0"})
    v = compare(make_record(seed=1, slow={"train": 1.3}, environment_=upgraded), base)
    assert ("packages.torch", "2.13.0", "2.14.0") in v.environment_diff
    assert v.workload_match
    assert by_name(v)["train.wall_s"].verdict == "regressed"
    ndcg = by_name(v)["quality.ndcg_at_20"]
    assert ndcg.verdict == "ok" and "environment differs" in ndcg.reason


def test_other_environment_uses_the_seed_spread_tolerance():
    spread = {"quality.ndcg_at_20": [0.1661, 0.1672, 0.1650, 0.1668, 0.1655]}
    seeded = make_baseline(seeds=spread)
    upgraded = environment(**{"packages.torch": "2.14.0"})
    wiggle = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.1665}, environment_=upgraded), seeded))
    drop = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.150}, environment_=upgraded), seeded))
    assert wiggle["quality.ndcg_at_20"].verdict == "ok"
    assert "5-seed spread" in wiggle["quality.ndcg_at_20"].reason
    assert drop["quality.ndcg_at_20"].verdict == "regressed"


def test_other_environment_without_seeds_uses_the_named_fallback(base):
    upgraded = environment(**{"packages.torch": "2.14.0"})
    m = by_name(compare(make_record(seed=1, quality={"ndcg_at_20": 0.12}, environment_=upgraded), base))
    assert m["quality.ndcg_at_20"].verdict == "regressed"
    assert "fallback" in m["quality.ndcg_at_20"].reason


def _slower_machine_baseline():
    slow_env = environment(cpu_model="Older CPU @ 1.6GHz")
    stages = {s: 1.4 for s in ("imports", "synthetic", "etl", "splits", "schema", "model", "train", "evaluate",
                                "checkpoint")}
    return make_baseline(slow=stages, speed=0.56, environment_=slow_env)


def _policies(normalise: str):
    """The committed policies with every normalise setting replaced."""
    text = resources.files("harness").joinpath("policies.toml").read_text()
    return policy.parse(_toml(re.sub(r'normalise = "[a-z-]+"', f'normalise = "{normalise}"', text)))


def test_speed_normalisation_is_off_by_default():
    # Measured on the 2-core runner: the speed calibration has CV 18% and correlates 0.06 with
    # total.wall_s, so dividing by it made every time noisier (policies.toml, [defaults]).
    pols = policy.load()
    for name, kind in (("total.wall_s", "time"), ("train.wall_s", "time"), ("train.cpu_s", "time"),
                       ("train.steady_samples_per_s", "throughput")):
        assert pols.for_measurement(name, kind).normalise == "never"
    v = compare(make_record(seed=1), _slower_machine_baseline())
    assert by_name(v)["train.wall_s"].verdict == "improved"  # the faster machine shows as faster
    assert "speed-normalised" not in by_name(v)["train.wall_s"].reason


def test_cross_machine_normalisation_makes_another_machine_comparable():
    v = compare(make_record(seed=1), _slower_machine_baseline(), _policies("cross-machine"))
    assert flagged(v) == {}
    assert "speed-normalised" in by_name(v)["train.wall_s"].reason


def test_cross_machine_normalisation_is_not_applied_on_the_same_machine(base):
    v = compare(make_record(seed=1), base, _policies("cross-machine"))
    assert "speed-normalised" not in by_name(v)["train.wall_s"].reason


def test_normalisation_still_flags_a_real_slowdown_on_another_machine():
    v = compare(make_record(seed=1, slow={"train": 1.3}), _slower_machine_baseline(), _policies("cross-machine"))
    assert by_name(v)["train.wall_s"].verdict == "regressed"


# --- the verdict object ------------------------------------------------------------------

def test_verdict_round_trips_through_json(base):
    from harness.output import formatters

    v = judged(make_record(seed=1, slow={"train": 1.15}), base, baseline_path="b.json")
    again = Verdict.from_dict(json.loads(formatters.to_json(v)))
    assert again == v


def test_overall_is_the_worst_by_severity(base):
    v = judged(make_record(seed=1, slow={"train": 1.15}, drop=("quality.ndcg_at_40",)), base)
    assert v.overall == "regressed"
    order = [SEVERITY.index(m.verdict) for m in v.measurements]
    assert order == sorted(order)
