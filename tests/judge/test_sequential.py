"""The sequential gate: the confidence sequence (harness/judge/sequential.py), its verdict in the judge, the
stop rule and the pairing of the gate (harness/run/gate.py, harness/run/reference.py), and its calibration on
recorded pairs (harness/judge/gate_calibration.py)."""

from __future__ import annotations

import math
import random

import pytest
from verdict_fixtures import make_baseline, make_record

from harness.judge import gate_calibration as seqcal
from harness.judge import judging as judge
from harness.judge import policy, sequential
from harness.run import reference

SD_CONF = policy.committed_gate().sd_confidence  # the gate's noise bound, as check uses it


# --- the confidence sequence ------------------------------------------------------------------

def _ever_excludes(rng, mu: float, sd: float, alpha: float, horizon: int, floor: float) -> bool:
    d = []
    for _ in range(horizon):
        d.append(rng.gauss(mu, sd))
        if len(d) >= 2:
            s = sequential.sequence(d, alpha, floor, horizon, SD_CONF)
            if s.low > mu or s.high < mu:
                return True
    return False


def test_the_sequence_holds_the_mean_at_every_look_with_the_promised_rate():
    # 4000 Gaussian sequences of 20 looks each, noise at the floor: the interval ever misses the true mean
    # in at most alpha of them per side (two sides: 2 alpha), although it was looked at 19 times.
    rng = random.Random(7)
    alpha, sims = 0.05, 4000
    misses = sum(_ever_excludes(rng, 0.1, 0.03, alpha, 20, floor=0.03) for _ in range(sims))
    assert misses / sims <= 2 * alpha


def test_a_fixed_sample_t_interval_looked_at_after_every_pair_would_not():
    # The reason for the mixture: the same 19 looks with Student's t interval at the same level miss far
    # more often than alpha (the classic optional-stopping inflation).
    from scipy import stats as st

    rng = random.Random(7)
    alpha, misses = 0.05, 0
    for _ in range(2000):
        d = []
        for n in range(1, 21):
            d.append(rng.gauss(0.0, 0.03))
            if n >= 3:
                m, s = sum(d) / n, (sum((x - sum(d) / n) ** 2 for x in d) / (n - 1)) ** 0.5
                if abs(m) > st.t.ppf(1 - alpha, n - 1) * s / math.sqrt(n):
                    misses += 1
                    break
    assert misses / 2000 > 4 * alpha


def test_the_noise_used_is_the_floor_or_the_sample_sd_whichever_is_larger():
    quiet = sequential.sequence([0.01, 0.011, 0.009], 0.005, floor=0.03, horizon=20, sd_confidence=SD_CONF)
    noisy = sequential.sequence([0.2, -0.2, 0.1], 0.005, floor=0.03, horizon=20, sd_confidence=SD_CONF)
    assert quiet.sd == 0.03 and quiet.sample_sd < 0.03
    assert noisy.sd == pytest.approx(noisy.sample_sd * sequential.sd_upper_factor(3, SD_CONF)) and noisy.sd > 0.03
    # more noise, less evidence: the bound only widens with sigma
    assert sequential.radius(5, 0.06, 0.005, 20) > sequential.radius(5, 0.03, 0.005, 20)


def test_the_mixture_is_tuned_to_the_most_pairs():
    tau2 = sequential.mixture_scale(0.005, 20)
    a = lambda t2, n: (1 + n * t2) / t2 * (2 * math.log(200) + math.log(1 + n * t2))  # noqa: E731
    assert a(tau2, 20) <= min(a(tau2 * 2, 20), a(tau2 / 2, 20))


def test_decide_regressed_ok_improved_undecided():
    thr, margin = sequential.log_of_pct(5), sequential.log_of_pct(5)
    slow = sequential.sequence([0.25, 0.22, 0.24], 0.005, 0.03, 20, SD_CONF)
    same = sequential.sequence([0.001, -0.002, 0.0, 0.001, -0.001, 0.002, 0.0, -0.001], 0.005, 0.01, 20, SD_CONF)
    fast = sequential.sequence([-0.25, -0.22, -0.24], 0.005, 0.03, 20, SD_CONF)
    unsure = sequential.sequence([0.04, -0.01, 0.03], 0.005, 0.03, 20, SD_CONF)
    assert sequential.decide(slow, False, thr, margin) == sequential.REGRESSED
    assert sequential.decide(slow, True, thr, margin) == sequential.IMPROVED  # a throughput that rose
    assert sequential.decide(fast, False, thr, margin) == sequential.IMPROVED
    assert sequential.decide(same, False, thr, margin) == sequential.OK
    assert sequential.decide(unsure, False, thr, margin) == sequential.UNDECIDED
    assert slow.p_value < 0.005 < unsure.p_value


def test_detectable_change_shrinks_with_pairs_and_grows_with_noise():
    d = sequential.detectable
    assert d(0.03, 0.005, 20, 20) < d(0.03, 0.005, 10, 20) and d(0.03, 0.005, 20, 20) < d(0.06, 0.005, 20, 20)


# --- the verdict and the stop rule --------------------------------------------------------------

def _pool(n: int, seed: int, slow: dict | None = None, noise: float = 0.01):
    cur = make_record(seed=seed, repeat=n, noise=noise, slow=slow)
    ref = make_record(seed=seed + 500, repeat=n, noise=noise)
    return cur, ref


@pytest.fixture(scope="module")
def stored():
    return make_baseline(repeat=10)


def _verdict(cur, ref, stored, horizon=20):
    return judge.judge(cur, None, stored=stored, in_session=seqcal.in_session(ref, horizon, "duet", SD_CONF))


def test_a_large_slowdown_is_regressed_after_three_pairs(stored):
    cur, ref = _pool(3, 1, slow={"train": 1.25})
    v = _verdict(cur, ref, stored)
    train = next(m for m in v.measurements if m.name == "train.wall_s")
    assert train.verdict == "regressed" and "anytime p=" in train.reason and "after 3 pairs" in train.reason
    assert judge.stop_reason(v).startswith("regressed (") and "train.wall_s" in judge.stop_reason(v)


def test_unchanged_code_is_decided_ok_once_the_bounds_rule_out_the_margins(stored):
    cur, ref = _pool(3, 2)
    assert judge.stop_reason(_verdict(cur, ref, stored)) is None  # 3 pairs at the floors: not yet
    cur, ref = _pool(20, 3)
    v = _verdict(cur, ref, stored)
    total = next(m for m in v.measurements if m.name == "total.wall_s")
    assert total.verdict == "ok" and total.reason.startswith("rules out a worsening of 5.0% or more")
    assert judge.stop_reason(v) == "decided: every gated time is ok or improved"


def test_undecided_at_the_last_pair_is_unstable_with_what_it_rules_out(stored):
    from harness.documents import record

    cur, ref = _pool(3, 4)
    ref_total = next(m for m in ref["measurements"] if m["name"] == "total.wall_s")["samples"]
    cur["measurements"] = [record.measurement(m["name"], [x * f for x, f in zip(ref_total, (1.03, 0.99, 1.05))])
                           if m["name"] == "total.wall_s" else m for m in cur["measurements"]]
    total = next(m for m in _verdict(cur, ref, stored, horizon=3).measurements if m.name == "total.wall_s")
    assert total.verdict == "unstable" and "rules out only a worsening beyond" in total.reason


def test_pairing_falls_back_to_alternating_without_a_cpu_per_side():
    from harness.config import build_config

    config = build_config("ci", {"device": "cpu"})  # one thread per side
    have = reference.cores()
    assert reference.pairing(config, have, "duet") == ("duet", None)
    mode, why = reference.pairing(config, have + 1, "duet")
    assert mode == "alternating" and f"this machine gives {have}" in why
    for placed in ("crossover", "pinned"):
        assert reference.pairing(config, have + 1, placed)[0] == "alternating"
        assert reference.pairing(config, have, placed) == (placed, None)  # Linux: affinity can be set
    assert reference.pairing(config, have + 1, "alternating") == ("alternating", None)


def test_together_runs_calls_at_the_same_time_and_reraises():
    import threading
    import time

    barrier = threading.Barrier(2, timeout=5)  # both calls must be running at once to pass it
    reference._together([barrier.wait, barrier.wait])
    with pytest.raises(ValueError, match="boom"):
        reference._together([lambda: time.sleep(0.01), lambda: (_ for _ in ()).throw(ValueError("boom"))])


# --- calibration on recorded pairs ---------------------------------------------------------------

def test_simulated_aa_checks_stop_early_and_stay_within_the_budget(stored):
    cur, ref = _pool(30, 10, noise=0.01)
    sim = seqcal.simulate(cur, ref, stored, None, None, horizon=20, min_pairs=3, mode="duet", checks=40, seed=1,
                          sd_confidence=SD_CONF)
    assert sim["false_positives"] == 0 and sim["resampling"] == "without replacement"
    assert sim["pairs_max"] < 20 and sim["undecided"] == 0


def test_a_planted_slowdown_on_recorded_pairs_is_flagged_within_three_pairs(stored):
    cur, ref = _pool(30, 11, noise=0.005)
    sim = seqcal.simulate(seqcal.planted(cur, "train", 0.25), ref, stored, None, None, horizon=20, min_pairs=3,
                          mode="duet", checks=20, seed=1, sd_confidence=SD_CONF)
    assert sim["false_positives"] == 20 and sim["pairs_max"] == 3
    assert sim["flagged"]["train.wall_s"] == 20


def test_noise_rows_use_the_policy_floor_for_the_detectable_change(stored):
    cur, ref = _pool(12, 12, noise=0.001)
    rows = {r["name"]: r for r in seqcal.noise(cur, ref, policy.load(), 20)}
    total = rows["total.wall_s"]
    assert total["sd_pct"] < total["floor_pct"]
    floor = sequential.log_of_pct(total["floor_pct"])
    assert total["mde_pct"] == pytest.approx(sequential.pct(sequential.detectable(floor, total["alpha"], 20, 20)))
