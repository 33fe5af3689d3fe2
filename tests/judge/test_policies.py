"""The policies file (harness/judge/policy.py) and its [gate] table, as the verdicts use them.

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's);
no pipeline runs here."""

from __future__ import annotations

import copy
import re

from importlib import resources

import pytest
from compare_support import (
    COMMITTED,
    GATE,
    TRIALS,
    _toml,
    by_name,
    gated,
    judged,
    regressed,
)
from verdict_fixtures import MiB, make_baseline, make_record

from harness.documents import baseline
from harness.errors import HarnessError
from harness.judge import policy
from harness.judge.compare import compare

# --- policies ---------------------------------------------------------------------------

def _policy_doc(**defaults) -> dict:
    kinds = ("time", "throughput", "memory", "metric", "loss", "count")
    rule = {"metric": "exact-or-seed-spread", "loss": "exact-or-seed-spread", "count": "exact"}
    return {"format_version": 1, "defaults": defaults,
            "policy": [{"kind": k, "rule": rule.get(k, "significance")} for k in kinds]}


def test_committed_policy_file_loads_and_covers_every_measurement(base):
    pols = policy.load()
    for m in base["record"]["measurements"]:
        assert pols.for_measurement(m["name"], m["kind"]).rule in policy.RULES
    assert pols.for_measurement("total.wall_s", "time").name == "total wall time"
    assert pols.for_measurement("etl.wall_s", "time").name == "etl wall time"
    assert pols.for_measurement("scale.wall_s", "time").name == "stage wall time"  # the kind's fallback
    assert pols.for_measurement("etl.cpu_s", "time").name == "stage cpu time"


def test_gated_times_are_the_family_members_among_the_stage_times():
    from harness.judge import rules

    assert rules.gated_times() == ("total.wall_s", "imports.wall_s", "etl.wall_s", "train.wall_s",
                                   "evaluate.wall_s", "total.cpu_s")
    doc = _policy_doc()  # every time significant and in the family: every stage every run has
    times = rules.gated_times(policy.parse(doc))
    assert times[0] == "total.wall_s" and "cluster.wall_s" not in times and len(times) == 2 * 10
    doc["policy"].insert(0, {"match": ["*.cpu_s"], "rule": "report-only"})
    assert not any(t.endswith(".cpu_s") for t in rules.gated_times(policy.parse(doc)))


def test_a_current_policy_file_is_read_and_the_input_left_alone():
    doc = _policy_doc()
    before = copy.deepcopy(doc)
    assert len(policy.parse(doc, "p.toml").policies) == 6
    assert doc == before


def test_policy_unknown_key_suggests_the_right_one():
    with pytest.raises(HarnessError, match="did you mean 'threshold_pct'"):
        policy.parse(_policy_doc(treshold_pct=5))


def test_policy_needs_a_fallback_for_every_kind():
    doc = _policy_doc()
    doc["policy"] = doc["policy"][:-1]
    with pytest.raises(HarnessError, match="count"):
        policy.parse(doc)


@pytest.mark.parametrize("bad", [{"rule": "vibes"}, {"normalise": "sometimes"}, {"confidence": 1.5},
                                 {"threshold_pct": "five"}])
def test_policy_bad_values_are_named(bad):
    doc = _policy_doc()
    doc["policy"][0].update(bad)
    with pytest.raises(HarnessError, match=next(iter(bad)) if "five" not in str(bad) else "wrong type"):
        policy.parse(doc)


# --- the [gate] table ------------------------------------------------------------------------

def test_gate_alphas_sum_to_the_family_budget():
    import dataclasses

    gate = dataclasses.replace(policy.committed_gate(), family_alpha=0.01, primary="total.wall_s", alpha_primary=0.006)
    alphas = gate.alphas(["a", "total.wall_s", "b", "c", "d"])
    assert alphas["total.wall_s"] == 0.006 and alphas["a"] == pytest.approx(0.001)
    assert sum(alphas.values()) == pytest.approx(0.01)
    assert sum(gate.alphas(["a", "b"]).values()) == pytest.approx(0.004)  # no primary: its share unused


def test_gate_table_is_read_and_checked():
    doc = {**_policy_doc(), "gate": {"family_alpha": 0.02, "alpha_primary": 0.01, "repeat": 4, "baseline_runs": 12}}
    gate = policy.parse(doc).gate
    assert (gate.family_alpha, gate.alpha_primary, gate.repeat, gate.baseline_runs) == (0.02, 0.01, 4, 12)
    assert policy.parse(_policy_doc()).gate == policy.committed_gate()  # no [gate]: the committed file's
    with pytest.raises(HarnessError, match="mode"):
        policy.parse({**_policy_doc(), "gate": {"mode": "trio"}})
    with pytest.raises(HarnessError, match="min_pairs"):
        policy.parse({**_policy_doc(), "gate": {"min_pairs": 30}})
    with pytest.raises(HarnessError, match="did you mean 'alpha_primary'"):
        policy.parse({**_policy_doc(), "gate": {"alpha_primry": 0.01}})
    with pytest.raises(HarnessError, match="alpha_primary"):
        policy.parse({**_policy_doc(), "gate": {"alpha_primary": 0.02}})
    with pytest.raises(HarnessError, match="repeat"):
        policy.parse({**_policy_doc(), "gate": {"repeat": 0}})
    with pytest.raises(HarnessError, match="wrong type"):
        policy.parse({**_policy_doc(), "gate": {"family_alpha": "1%"}})


def test_committed_gate_meets_the_issue_budget():
    assert GATE.family_alpha <= 0.01 and GATE.primary == "total.cpu_s"  # the quieter total (policies.toml)
    # At most 20 pairs: 20 duet pairs of about 25 s is the worst case of the gate's share of a CI run; the
    # sequential gate stops earlier once decided (docs/statistics.md).
    assert 2 <= GATE.min_pairs <= GATE.repeat <= 20 and GATE.mode in policy.MODES


def test_a_throttled_gpu_run_is_undecided_not_regressed(gate_base):
    run = gated(3, slow={"train": 1.5})
    assert by_name(compare(run, gate_base))["train.wall_s"].verdict == "regressed"
    run["gpu"] = {"throttled": True, "throttle_reasons": ["hw_thermal_slowdown"]}
    m = by_name(compare(run, gate_base))["train.wall_s"]
    assert m.verdict == "undecided" and "hw_thermal_slowdown" in m.reason


def test_committed_policy_does_not_flag_machine_drift_of_10_percent(gate_base):
    # the drift seen on this machine within one session (policies.toml, DRIFT)
    drifted = [compare(gated(s, slow={"imports": 1.1, "etl": 1.1, "train": 1.1, "evaluate": 1.1}), gate_base,
                       policies=COMMITTED) for s in TRIALS]
    assert all(v.exit_code == 0 for v in drifted)


def test_committed_policy_flags_a_40_percent_stage_slowdown(gate_base):
    assert by_name(compare(gated(1, slow={"train": 1.4}), gate_base, policies=COMMITTED))["train.wall_s"].verdict \
        == "regressed"


def test_committed_policy_ignores_the_checkout_offset_of_file_backed_pages(gate_base):
    # +166 MiB of peak RSS on every stage between two checkouts of one commit, anonymous RSS
    # unchanged (policies.toml, resident memory): not a regression; 200 MB allocated is.
    run = gated(2)
    for m in run["measurements"]:
        if m["name"].endswith(".peak_rss_bytes"):
            m["samples"] = [x + 166 * MiB for x in m["samples"]]
            m["value"] += 166 * MiB
    assert regressed(judged(run, gate_base)) == []
    ballast = judged(gated(2, extra_bytes={"train": 200 * MiB}), gate_base)
    assert set(regressed(ballast)) == {"train.peak_anon_bytes", "total.peak_anon_bytes"}


def _drifting_pairs(slow: float, seed: int = 0) -> tuple[dict, dict]:
    """Reference and current runs alternating through a session whose speed drifts by 20% (sd) from
    pair to pair, with 2% noise within a pair; every current stage ``slow`` times slower."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ref, cur = make_record(seed=seed, repeat=GATE.repeat, noise=0.0), make_record(seed=seed, repeat=GATE.repeat,
                                                                                   noise=0.0)
    drift = np.exp(rng.normal(0, 0.2, GATE.repeat))
    for rec, factor in ((ref, 1.0), (cur, slow)):
        for m in rec["measurements"]:
            if m["kind"] in ("time", "throughput"):
                power = 1 if m["kind"] == "time" else -1
                m["samples"] = [x * (d * factor * np.exp(rng.normal(0, 0.02))) ** power
                                for x, d in zip(m["samples"], drift)]
                m["value"] = float(np.median(m["samples"]))
    return ref, cur


def test_paired_reference_cancels_drift_within_the_session():
    ref, cur = _drifting_pairs(1.10)
    doc = baseline.build(ref)
    paired = by_name(compare(cur, doc, reference={"record": ref, "provenance": {"paired": True}}))["total.wall_s"]
    unpaired = by_name(compare(cur, doc, reference={"record": ref, "provenance": {}}))["total.wall_s"]
    assert paired.verdict == "regressed" and "paired t" in paired.reason and paired.min_detectable_pct < 10
    assert unpaired.verdict != "regressed" and "Mann-Whitney" in unpaired.reason and unpaired.min_detectable_pct > 20


@pytest.mark.parametrize("mode", ["duet", "alternating"])
def test_the_paired_test_names_the_mode_the_pairs_ran_in(mode):
    ref, cur = _drifting_pairs(1.10)
    reference = {"record": ref, "provenance": {"paired": True, "mode": mode}}
    reason = by_name(compare(cur, baseline.build(ref), reference=reference))["total.wall_s"].reason
    assert f"paired t on the log ratios of {GATE.repeat} {mode} pairs" in reason
    older = by_name(compare(cur, baseline.build(ref), reference={"record": ref, "provenance": {"paired": True}}))
    assert f"of {GATE.repeat} pairs;" in older["total.wall_s"].reason  # a reference that does not say


def test_paired_reference_without_a_change_is_not_flagged():
    for seed in range(10):
        ref, cur = _drifting_pairs(1.0, seed)
        v = compare(cur, baseline.build(ref), reference={"record": ref, "provenance": {"paired": True}})
        assert regressed(v) == [] and v.exit_code == 0


def test_zero_baseline_median_is_judged_by_the_absolute_floor(base):
    zero = make_baseline()
    for m in zero["record"]["measurements"]:
        if m["name"] == "schema.cpu_s":
            m["samples"], m["value"] = [0.0] * len(m["samples"]), 0.0
    doc = _toml(resources.files("harness").joinpath("policies.toml").read_text())
    doc["policy"] = [p for p in doc["policy"] if p.get("rule") != "report-only"]  # gate schema.cpu_s
    ms = by_name(compare(make_record(seed=1), zero, policy.parse(doc)))
    assert ms["schema.cpu_s"].verdict == "ok" and "floor" in ms["schema.cpu_s"].reason


def test_short_stages_and_reciprocal_throughputs_are_report_only(base):
    slow = {s: 3.0 for s in ("synthetic", "splits", "schema", "model", "checkpoint")}
    v = compare(make_record(seed=1, slow=slow), base)
    ms = by_name(v)
    for name in ("schema.wall_s", "model.cpu_s", "synthetic.rows_per_s", "checkpoint.wall_s", "etl.rows_per_s"):
        assert ms[name].verdict == "ok" and "report-only" in ms[name].reason, name
    assert ms["checkpoint.wall_s"].change_pct > 100
    assert ms["total.wall_s"].change_pct > 0  # their time still counts in the total


def _family_size(verdict) -> int:
    note = next(n for n in verdict.notes if "Bonferroni" in n)
    return int(re.search(r"the (\d+) other gated measurements", note).group(1))


def test_report_only_policy_shows_the_change_but_never_gates(base):
    text = resources.files("harness").joinpath("policies.toml").read_text()
    doc = _toml(text)
    doc["policy"].insert(0, {"name": "train info", "match": ["train.wall_s"], "rule": "report-only"})
    v = compare(make_record(seed=1, slow={"train": 1.5}), base, policy.parse(doc))
    m = by_name(v)["train.wall_s"]
    assert m.verdict == "ok" and "report-only" in m.reason and m.change_pct > 40
    assert _family_size(v) == _family_size(compare(make_record(seed=1), base)) - 1  # outside the family
