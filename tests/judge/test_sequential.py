"""The sequential gate: the confidence sequence (harness/judge/sequential.py), its verdict in the judge, the
stop rule and the pairing of the gate (harness/pairing/gate.py, harness/pairing/reference.py), and its calibration on
recorded pairs (harness/judge/gate_errors.py)."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from verdict_fixtures import make_baseline, make_record

from harness.judge import gate_errors as seqcal
from harness.judge import decide
from harness.judge import policy, sequential
from harness.pairing import reference, together

GATE = policy.committed_gate()


# --- the confidence sequence ------------------------------------------------------------------

def _ever_excludes(rng, mu: float, sd: float, alpha: float, looks: int, design: int = 8) -> bool:
    d = []
    for _ in range(looks):
        d.append(rng.gauss(mu, sd))
        if len(d) >= 2:
            s = sequential.sequence(d, alpha, design)
            if s.low > mu:  # one side: each bound is one-sided at alpha
                return True
    return False


@pytest.mark.parametrize("sd", [0.0025, 0.01, 0.08])  # 0.25x to 8x of a 1% pair noise: no floor is assumed
def test_the_sequence_holds_the_mean_at_every_look_whatever_the_noise(sd):
    # 3000 Gaussian sequences of 20 looks each (the scalar path the judge uses): the lower bound ever
    # passes the true mean in at most alpha of them, although it was looked at 19 times.
    rng = random.Random(7)
    alpha, sims = 0.05, 3000
    misses = sum(_ever_excludes(rng, 0.1, sd, alpha, 20) for _ in range(sims))
    assert misses / sims <= alpha


@pytest.mark.parametrize("model", [{}, {"tail_df": 3.0}, {"outlier": 3.0}])
def test_the_rule_as_coded_keeps_its_level_with_heavy_tails_and_an_outlier(model):
    # The vectorised rule (sequential.simulate, what calibrate's power tables run) at the primary's level,
    # bounds only (threshold 0, no "ok" stop), 30 looks, 40000 independent checks: at most the nominal rate.
    rule = sequential.Rule(0.005, 0.0, -math.inf, 2, 30, 30, 8)
    for sd in (0.0025, 0.08):
        assert sequential.simulate(rule, sd, 0.0, 40000, seed=3, **model)["regressed"] <= 0.005


def test_ar1_drift_between_pairs_is_outside_the_guarantee():
    # The test assumes independent pairs. With AR(1) correlation 0.6 between successive pairs the bound is
    # crossed far more often than alpha (docs/statistics.md: calibrate prints each host's lag-1
    # autocorrelation so that this assumption is checked on the pairs themselves).
    rule = sequential.Rule(0.005, 0.0, -math.inf, 2, 30, 30, 8)
    assert sequential.simulate(rule, 0.01, 0.0, 20000, seed=3, ar=0.6)["regressed"] > 0.02


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


def test_the_width_comes_from_the_pairs_own_noise_and_scales_with_it():
    quiet = sequential.sequence([0.01, 0.011, 0.009, 0.010, 0.012, 0.008], 0.005, 8)
    noisy = sequential.sequence([x * 10 for x in (0.01, 0.011, 0.009, 0.010, 0.012, 0.008)], 0.005, 8)
    assert noisy.radius == pytest.approx(10 * quiet.radius)
    assert sequential.sequence([0.01, 0.02], 0.005, 8).radius == math.inf  # two pairs bound nothing yet
    g = sequential.mixture_g(0.005, 8)
    assert quiet.radius == pytest.approx(sequential.t_critical(6, g, 0.005) * quiet.sample_sd / math.sqrt(6))


def test_the_critical_t_solves_the_one_sided_mixture_and_is_tuned_to_the_design_pairs():
    g = sequential.mixture_g(0.005, 8)
    t = sequential.t_critical(10, g, 0.005)
    b = math.exp(sequential.log_bayes_factor(10, t * t, g))
    assert 2 * b - 1 == pytest.approx(1 / 0.005, rel=1e-9)
    at8 = lambda g: sequential.t_critical(8, g, 0.005)  # noqa: E731
    assert at8(g) <= min(at8(2 * g), at8(g / 2))


def test_decide_regressed_ok_improved_undecided():
    thr, margin = sequential.log_of_pct(5), sequential.log_of_pct(5)
    slow = sequential.sequence([0.25, 0.22, 0.24, 0.23, 0.25, 0.24], 0.005, 8)
    same = sequential.sequence([0.001, -0.002, 0.0, 0.001, -0.001, 0.002, 0.0, -0.001], 0.005, 8)
    fast = sequential.sequence([-0.25, -0.22, -0.24, -0.23, -0.25, -0.24], 0.005, 8)
    unsure = sequential.sequence([0.04, -0.01, 0.03, 0.05, -0.02, 0.0], 0.005, 8)
    assert sequential.decide(slow, False, thr, margin) == sequential.REGRESSED
    assert sequential.decide(slow, True, thr, margin) == sequential.IMPROVED  # a throughput that rose
    assert sequential.decide(fast, False, thr, margin) == sequential.IMPROVED
    assert sequential.decide(same, False, thr, margin) == sequential.OK
    assert sequential.decide(unsure, False, thr, margin) == sequential.UNDECIDED
    assert slow.p_value < 0.005 < unsure.p_value


def test_the_power_point_comes_from_the_rule_and_grows_with_noise():
    rule = sequential.Rule(0.005, sequential.log_of_pct(1.5), sequential.log_of_pct(3), 3, 20, 30, 8)
    quiet, noisy = sequential.power_point(rule, 0.005), sequential.power_point(rule, 0.02)
    assert rule.threshold <= quiet < noisy
    assert sequential.simulate(rule, 0.02, noisy, 1000, seed=0)["regressed"] >= 0.8  # power_point's trials
    assert sequential.simulate(rule, 0.02, 0.8 * noisy, 1000, seed=0)["regressed"] < 0.8


# --- the verdict and the stop rule --------------------------------------------------------------

def _pool(n: int, seed: int, slow: dict | None = None, noise: float = 0.01):
    cur = make_record(seed=seed, repeat=n, noise=noise, slow=slow)
    ref = make_record(seed=seed + 500, repeat=n, noise=noise)
    return cur, ref


@pytest.fixture(scope="module")
def stored():
    return make_baseline(repeat=10)


def _verdict(cur, ref, stored, gate=GATE, final=False):
    return decide.verdict_of(cur, None, stored=stored, in_session=seqcal.in_session(ref, gate, "duet", final))


def _stop(v, pairs, gate=GATE, name_until=None):
    return decide.stop_reason(v, pairs, gate.repeat, gate.max_pairs, name_until)


def test_a_large_slowdown_is_regressed_after_six_pairs(stored):
    # no noise is assumed, so the first pairs bound nothing: a 25% slowdown of a secondary (alpha 0.033%)
    # is decided at the sixth
    cur, ref = _pool(6, 1, slow={"train": 1.25})
    v = _verdict(cur, ref, stored, final=True)
    train = next(m for m in v.measurements if m.name == "train.wall_s")
    assert train.verdict == "regressed" and "anytime one-sided p=" in train.reason and "after 6 pairs" in train.reason
    assert "in 80% of checks" in train.reason and train.min_detectable_pct is not None
    assert _stop(v, 6).startswith("regressed (") and "train.wall_s" in _stop(v, 6)


def test_unchanged_code_is_decided_ok_once_the_bounds_rule_out_the_margins(stored):
    cur, ref = _pool(3, 2)
    assert _stop(_verdict(cur, ref, stored), 3) is None  # 3 pairs bound nothing yet
    cur, ref = _pool(20, 3)
    v = _verdict(cur, ref, stored)
    total = next(m for m in v.measurements if m.name == GATE.primary)
    assert total.verdict == "ok" and total.reason.startswith("rules out a worsening of 3.0% or more")
    assert _stop(v, 20) == "decided: every gated time is ok or improved"


def _noisy_total(seed: int, factors) -> tuple[dict, dict]:
    from harness.documents import record

    # both readings of the total (CPU and wall time) move together, as they do in a pipeline
    cur, ref = _pool(len(factors), seed)
    ref_samples = {m["name"]: m["samples"] for m in ref["measurements"]}
    cur["measurements"] = [record.measurement(m["name"], [x * f for x, f in zip(ref_samples[m["name"]], factors)])
                           if m["name"] in ("total.cpu_s", "total.wall_s") else m for m in cur["measurements"]]
    return cur, ref


QUIETER = (1.02, 0.99, 1.03, 0.98, 1.02, 1.0, 0.99, 1.01)  # the primary: pair sd about 1.7%


def test_undecided_is_its_own_verdict_with_what_it_rules_out_and_never_exit_0(stored):
    import dataclasses

    factors = QUIETER  # 8 pairs cannot decide 3% at this noise
    cur, ref = _noisy_total(4, factors)
    gate = dataclasses.replace(GATE, repeat=8, max_pairs=8)
    v = _verdict(cur, ref, stored, gate)
    total = next(m for m in v.measurements if m.name == GATE.primary)
    assert total.verdict == "undecided" and "rules out only a worsening beyond" in total.reason
    assert v.overall == "undecided" and v.exit_code == 6
    assert _stop(v, 8, gate).startswith("undecided after the most pairs ([gate] max_pairs = 8)")
    assert _stop(v, 7, gate) is None  # before the cap and before repeat: go on


def test_past_repeat_the_gate_goes_on_only_while_the_cap_could_decide(stored):
    import dataclasses

    cur, ref = _noisy_total(4, QUIETER)
    v = _verdict(cur, ref, stored)
    total = next(m for m in v.measurements if m.name == GATE.primary)
    assert total.decidable  # at 30 pairs this noise would rule out 3%
    assert _stop(v, 8, dataclasses.replace(GATE, repeat=8)) is None
    wild = (1.3, 0.8, 1.25, 0.7, 1.4, 0.9, 0.75, 1.35)  # pair sd ~27%: 30 pairs could not decide either
    cur, ref = _noisy_total(4, wild)
    v = _verdict(cur, ref, stored)
    assert not next(m for m in v.measurements if m.name == GATE.primary).decidable
    assert _stop(v, 8, dataclasses.replace(GATE, repeat=8)).startswith("undecided, and more pairs")


def test_undecided_exits_6_unless_on_undecided_is_pass_and_a_regression_always_fails():
    from harness.judge import verdict as verdictmod

    assert verdictmod.exit_code("undecided", "pass") == 0 and verdictmod.exit_code("undecided", "fail") == 6
    assert verdictmod.exit_code("regressed", "pass") == 1 and verdictmod.exit_code("ok", "fail") == 0


def test_a_regression_waits_for_the_others_beyond_their_threshold_up_to_extra_pairs(stored):
    cur, ref = _pool(6, 1, slow={"train": 1.25})
    v = _verdict(cur, ref, stored)
    import dataclasses

    pending = dataclasses.replace(next(m for m in v.measurements if m.name == "total.wall_s"), verdict="undecided",
                                  decidable=True, change_pct=10.0, threshold_pct=1.5)
    held = dataclasses.replace(v, measurements=tuple(pending if m.name == "total.wall_s" else m
                                                     for m in v.measurements))
    assert _stop(held, 6, name_until=9) is None  # total.wall_s is beyond its threshold and could be decided
    assert _stop(held, 9, name_until=9).startswith("regressed (")  # extra pairs spent: name what is decided


def _cpus(monkeypatch, n: int) -> None:
    monkeypatch.setattr(together, "cores", lambda: n)


def test_pairing_falls_back_to_alternating_without_a_cpu_per_side(monkeypatch):
    from harness.config import build_config

    config = build_config("ci", {"device": "cpu"})  # one thread per side
    _cpus(monkeypatch, 4)
    assert reference.pairing(config, 4, "duet") == ("duet", None)
    mode, why = reference.pairing(config, 5, "duet")
    assert mode == "alternating" and "this machine gives 4" in why
    for placed in ("crossover", "pinned"):
        assert reference.pairing(config, 5, placed)[0] == "alternating"
        assert reference.pairing(config, 4, placed) == (placed, None)  # Linux: affinity can be set
    assert reference.pairing(config, 5, "alternating") == ("alternating", None)


def test_three_sides_on_two_cpus_run_as_two_pairs_a_round(monkeypatch):
    from harness.config import build_config
    from harness.pairing import together

    config, sides = build_config("ci", {"device": "cpu"}), ["reference", "current", "cross"]
    _cpus(monkeypatch, 2)
    for mode in together.TOGETHER:
        used, why = reference.pairing(config, 3, mode)
        assert used == mode and f"two {mode} pairs" in why and "second run of the reference" in why
        assert together.groups(config, sides, mode) == [["reference", "current"], ["cross", together.PARTNER]]
    assert together.groups(config, sides, "alternating") == [sides]
    assert together.groups(config, sides[:2], "crossover") == [sides[:2]]
    _cpus(monkeypatch, 3)  # all three fit: one group
    assert reference.pairing(config, 3, "crossover") == ("crossover", None)
    assert together.groups(config, sides, "crossover") == [sides]
    _cpus(monkeypatch, 1)  # not even two fit
    assert reference.pairing(config, 3, "crossover")[0] == "alternating"


def test_a_split_round_starts_each_pair_together_at_its_own_barrier(tmp_path):
    """Two pairs a round, in rotating order; the two sides of a pair start at once, at a barrier of two."""
    import threading

    from harness import REPO_DIR
    from harness.pairing import together
    from harness.run import barrier

    seen, lock = [], threading.Lock()

    class Run:
        config = None

        def __call__(self, side, repeat, place=None, index=0, env=None):
            with lock:
                seen.append((side, index, env[barrier.ENV]))

    code = reference.Reference("cd" * 20, REPO_DIR)
    arms = [reference.Arm(n, code, "python") for n in ("reference", "cross", together.PARTNER)]
    rounds = [["reference", "current"], ["cross", together.PARTNER]]
    firsts = []
    for i in range(2):
        seen.clear()
        launch = together.one_round(Run(), i, rounds, 20, "duet", arms, tmp_path / f"barrier-{i}", None, 60)
        assert launch == {"launch": "barrier"}
        assert sorted(s for s, _, _ in seen) == ["cross", "current", together.PARTNER, "reference"]
        by_pair = {spec: sorted(s for s, _, sp in seen if sp == spec) for _, _, spec in seen}
        assert sorted(by_pair.values()) == [["cross", together.PARTNER], ["current", "reference"]]
        assert all(spec.endswith(":2:60") for spec in by_pair)  # a barrier of two parties per pair
        assert {(s, ix) for s, ix, _ in seen} == {("reference", 0), ("current", 1), ("cross", 0),
                                                  (together.PARTNER, 1)}
        firsts.append(seen[0][0])
    assert firsts[0] in ("reference", "current") and firsts[1] in ("cross", together.PARTNER)  # pairs rotate


def test_together_runs_calls_at_the_same_time_and_reraises():
    import threading
    import time

    barrier = threading.Barrier(2, timeout=5)  # both calls must be running at once to pass it
    together.at_once([barrier.wait, barrier.wait])
    with pytest.raises(ValueError, match="boom"):
        together.at_once([lambda: time.sleep(0.01), lambda: (_ for _ in ()).throw(ValueError("boom"))])


# --- calibration on recorded pairs ---------------------------------------------------------------

def test_simulated_aa_checks_stop_early_and_stay_within_the_budget(stored):
    cur, ref = _pool(30, 10, noise=0.01)
    sim = seqcal.simulate(cur, ref, stored, None, None, GATE, mode="duet", checks=40, seed=1)
    assert sim["false_positives"] == 0 and sim["resampling"] == f"in blocks of {seqcal.BLOCK} pairs in session order"
    assert sim["pairs_max"] < 20 and sim["undecided"] == 0 and sim["independent"] >= 1
    assert sim["blocks"] == 30 // seqcal.BLOCK  # the independent blocks the pool holds


def test_block_resampling_keeps_the_session_order_within_a_block():
    import random

    order = seqcal.block_order(10, 30, 4, random.Random(3))
    assert len(order) == 30 and set(order) <= set(range(10))
    for i in range(0, 28, 4):  # each block: 4 consecutive pairs (circular)
        assert [(order[i] + k) % 10 for k in range(4)] == order[i:i + 4]
    assert seqcal.block_order(3, 5, 4, random.Random(0))[:3] in ([0, 1, 2], [1, 2, 0], [2, 0, 1])  # a pool < a block


def test_the_robustness_table_is_the_rule_as_coded_at_one_to_four_times_the_noise():
    from harness.judge import sequential as seq

    rule = seq.Rule(0.005, seq.log_of_pct(1.5), seq.log_of_pct(3.0), 3, 20, 30, 8)
    rows = seqcal.robustness({"total.cpu_s": (rule, 0.01), "x": (rule, 0.0)}, trials=2000, seed=1)
    assert [(r["scale"], r["model"]) for r in rows][:3] == [(1, "gaussian"), (1, "t3"), (1, "AR(1) 0.6")]
    assert all(set(r["each"]) == {"total.cpu_s"} for r in rows)  # no noise measured: nothing to simulate
    by = {(r["scale"], r["model"]): r for r in rows}
    assert by[(1, "gaussian")]["family_at_most"] <= 0.01
    # serial correlation is what the test does not model: it shows, and grows with the noise
    assert by[(4, "AR(1) 0.6")]["family_at_most"] > by[(4, "gaussian")]["family_at_most"]
    assert by[(4, "AR(1) 0.6")]["family_at_most"] == pytest.approx(
        seq.simulate(rule, 0.04, 0.0, 2000, 1, ar=0.6)["regressed"])


def test_the_ledger_summary_counts_independent_real_checks():
    def row(plant, overall, date, ratios, load="none", os=None):
        return {"plant": plant, "load": load, "overall": overall, "date": date, "cpu": "X", "os": os, "seconds": 200.0,
                "pairs": len(ratios), "sd_pct": 0.5, "total_change_pct": 3.0 if plant != "none" else 0.1,
                "pairs_by_name": {"total.cpu_s": [[10.0, 10.0 * r] for r in ratios]}}

    rows = [row("none", "ok", "2026-12-02T01", [1.0, 1.01, 0.99, 1.0]),
            row("none", "undecided", "2026-12-03T01", [1.02, 0.98, 1.01, 0.99], os="Linux 6.18"),
            row("train=0.07", "regressed", "2026-12-03T02", [1.03, 1.04, 1.03]),
            row("none", "ok", "2026-12-03T03", [1.0, 1.0, 1.0], load="steady")]
    s = seqcal.ledger_summary(rows, "total.cpu_s")
    aa, loaded, plant = s["groups"]
    assert (aa["plant"], aa["load"], aa["checks"], aa["regressed"], aa["undecided"]) == ("none", "none", 2, 0, 1)
    assert aa["hosts"] == 2 and loaded["hosts"] == 1  # a CPU model and a kernel; no kernel counts as one
    assert aa["days"] == ["2026-12-02", "2026-12-03"] and aa["false_positive_upper95"] == pytest.approx(0.7764, abs=1e-3)
    assert loaded["load"] == "steady" and plant["plant"] == "train=0.07" and "false_positive_upper95" not in plant
    assert aa["ratio_sd_checks"] == 2 and plant["ratio_sd_checks"] == 1  # each check's own sd, from its pairs
    want = sorted(100 * statistics.stdev(math.log(r) for r in rs)
                  for rs in ([1.0, 1.01, 0.99, 1.0], [1.02, 0.98, 1.01, 0.99]))
    assert aa["ratio_sd_median_pct"] == pytest.approx(statistics.median(want)) and aa["ratio_sd_p90_pct"] == want[0]
    assert s["lag1_pairs"] == 6 and -1 <= s["lag1"] <= 1  # the A/A checks with no load only, each demeaned
    assert s["lag1_null"] == pytest.approx(-(3 / 4 + 3 / 4) / 6)  # what independent pairs would read
    # a drifting ratio reads far above that
    drift = [row("none", "ok", "2026-12-04T01", [1 + 0.002 * i for i in range(10)])]
    assert seqcal.ledger_summary(drift, "total.cpu_s")["lag1"] > 0.5


def _ar_checks(rho: float, checks: int, pairs: int, seed: int) -> tuple[list[int], float]:
    """``checks`` simulated A/A checks of ``pairs`` AR(1) ``rho`` log ratios: their lengths and the pooled,
    demeaned lag-1 reading ``ledger_summary`` computes."""
    rng = random.Random(seed)
    num = den = 0.0
    for _ in range(checks):
        e = [rng.gauss(0, 1)]
        for _ in range(pairs - 1):
            e.append(rho * e[-1] + math.sqrt(1 - rho * rho) * rng.gauss(0, 1))
        m = sum(e) / pairs
        num += sum((a - m) * (b - m) for a, b in zip(e, e[1:], strict=False))
        den += sum((x - m) ** 2 for x in e)
    return [pairs] * checks, num / den


def test_the_ledger_bounds_the_serial_correlation_it_could_have():
    lengths, independent = _ar_checks(0.0, 30, 7, seed=3)
    bound = seqcal.ar_bound(lengths, independent, reps=1000)
    assert bound < 0.6  # 30 independent checks of 7 pairs rule out the issue's AR(1) 0.6
    lengths, drifting = _ar_checks(0.6, 30, 7, seed=3)
    assert seqcal.ar_bound(lengths, drifting, reps=1000) >= 0.45  # and do not rule out what is there
    assert seqcal.ar_bound([7, 7], independent, reps=1000) >= bound  # fewer checks: a looser bound
    rows = seqcal.robustness({"total.cpu_s": (seq_rule(), 0.01)}, trials=500, seed=1, ar_host=bound)
    assert [r["model"] for r in rows if r["scale"] == 1][-1] == f"AR(1) {bound:.2f} (host)"


def seq_rule() -> sequential.Rule:
    return sequential.Rule(0.005, sequential.log_of_pct(1.5), sequential.log_of_pct(3.0), 3, 20, 30, 8)


def test_a_planted_slowdown_on_recorded_pairs_is_flagged_within_six_pairs(stored):
    cur, ref = _pool(30, 11, noise=0.005)
    sim = seqcal.simulate(seqcal.planted(cur, "train", 0.25), ref, stored, None, None, GATE, mode="duet",
                          checks=20, seed=1)
    assert sim["false_positives"] == 20 and sim["pairs_max"] <= 6 + GATE.extra_pairs
    assert sim["flagged"]["train.wall_s"] == 20


def test_noise_rows_carry_the_power_table_of_the_rule_at_the_measured_noise(stored):
    cur, ref = _pool(12, 12, noise=0.004)
    rows = {r["name"]: r for r in seqcal.noise(cur, ref, policy.load())}
    total = rows["total.wall_s"]
    assert [p["worsening_pct"] for p in total["power"]] == list(seqcal.WORSENINGS)
    flagged = [p["regressed"] for p in total["power"]]
    assert flagged == sorted(flagged) and flagged[-1] > 0.99  # more worsening, more often flagged
    assert all(abs(p["regressed"] + p["undecided"] + p["ok"] - 1) < 1e-9 for p in total["power"])
    assert total["threshold_pct"] <= total["power80_pct"] < 10
