"""Calibration of the sequential gate from recorded pairs: noise per gated measurement, the
family-wise A/A false-positive rate with early stopping, how many pairs a verdict takes, and the
minimum detectable effect at the most pairs. Pure: reads merged run records, runs nothing.

A "pool" is the current code's merged record and the reference's, run as pairs in one session
(sample i of each measurement on both sides is pair i). A simulated check draws pairs from the
pool in a random order (without replacement when the pool holds the most pairs, else with), and
looks after each one exactly as `check` does: the one judge (harness/judge/judging.py) and the gate's
stop rule (harness/judge/judging.py::stop_reason). So the simulation tests the gate's code, not a model of it.
"""

from __future__ import annotations

import random
import time
from statistics import median, stdev

from harness.documents import record as recordmod
from harness.judge import rules, stats
from harness.judge import sequential as seq
from harness.judge.significance import sequential_detectable_pct


def analyse(pools: dict, policies, stored, baseline_path, policies_path, comparisons: int, seed: int,
            plant: tuple[str, float] | None, seconds: dict) -> dict:
    """The sequential calibration of every pool ({mode: (current merged, reference merged)}): noise,
    simulated A/A checks, the planted slowdown ``plant`` (stage, fraction) and the readings per mode.
    ``seconds``: {mode: wall seconds per pair}, as measured by whoever ran the pairs."""
    g = policies.gate
    doc = {"horizon": g.repeat, "min_pairs": g.min_pairs, "modes": {}}
    for mode, (cur, ref) in pools.items():
        sim = lambda c, ref=ref, mode=mode: simulate(  # noqa: E731
            c, ref, stored, baseline_path, policies_path, g.repeat, g.min_pairs, mode, comparisons, seed,
            g.sd_confidence)
        doc["modes"][mode] = {
            "pairs": pool_size(cur, ref), "seconds_per_pair": seconds.get(mode),
            "noise": noise(cur, ref, policies, g.repeat), "aa": sim(cur),
            "planted": {"stage": plant[0], "fraction": plant[1], **sim(planted(cur, *plant))} if plant else None}
    doc["readings"] = same_readings(pools)
    return doc


def pooled(records: list[dict]) -> dict:
    """One merged record of several (merged or single) records: samples in order."""
    merged = recordmod.merge_repetitions(records)
    merged["repeat"] = sum(r["repeat"] for r in records)
    return merged


def pool_size(current: dict, reference: dict) -> int:
    """Pairs in a pool: the repetitions both sides have."""
    return min(current["repeat"], reference["repeat"])


def subset(rec: dict, idx: list[int]) -> dict:
    """The merged record of the repetitions ``idx`` of ``rec`` (measurements with one sample per repetition)."""
    n = rec["repeat"]
    ms = [recordmod.measurement(m["name"], [m["samples"][i] for i in idx])
          for m in rec["measurements"] if len(m["samples"]) == n]
    return {**rec, "measurements": ms, "repeat": len(idx)}


def planted(rec: dict, stage: str, fraction: float) -> dict:
    """``rec`` as if faults.slowdown_stage = ``stage`` had slept ``fraction`` of the stage's time after
    it in every repetition: the stage's and the total's wall time grow, nothing else does."""
    by = recordmod.by_name(rec)
    extra = [fraction * s for s in by[f"{stage}.wall_s"]["samples"]]
    grown = {f"{stage}.wall_s": by[f"{stage}.wall_s"]["samples"], "total.wall_s": by["total.wall_s"]["samples"]}
    ms = [recordmod.measurement(m["name"], [s + e for s, e in zip(grown[m["name"]], extra)])
          if m["name"] in grown else m for m in rec["measurements"]]
    return {**rec, "measurements": ms}


def in_session(ref: dict, horizon: int, mode: str, sd_confidence: float) -> dict:
    """The judge's in-session argument for a simulated look (harness/run/gate.py::_in_session's shape)."""
    prov = {"commit": "calibration", "runs": ref["repeat"], "paired": True, "mode": mode, "arms": 2}
    return {"record": ref, "provenance": prov, "cross": None, "changed": (), "code_range": "", "notes": (),
            "sequential": {"horizon": horizon, "sd_confidence": sd_confidence}}


def one_check(current: dict, reference: dict, order: list[int], stored: dict | None, baseline_path,
              policies_path, horizon: int, min_pairs: int, mode: str, sd_confidence: float) -> dict:
    """Look after each pair of ``order`` as `check` does; the verdict where it stops."""
    from harness.judge.judging import judge, stop_reason

    for n in range(min_pairs, horizon + 1):
        idx = order[:n]
        verdict = judge(subset(current, idx), baseline_path, policies_path, stored=stored,
                        in_session=in_session(subset(reference, idx), horizon, mode, sd_confidence))
        why = stop_reason(verdict)
        if why or n == horizon:
            failed = [m.name for m in verdict.measurements if m.verdict == "regressed"]
            return {"pairs": n, "stopped": why or "the most pairs", "regressed": failed, "overall": verdict.overall}
    raise AssertionError("unreachable: the loop returns at the horizon")


def simulate(current: dict, reference: dict, stored: dict | None, baseline_path, policies_path, horizon: int,
             min_pairs: int, mode: str, checks: int, seed: int, sd_confidence: float) -> dict:
    """``checks`` simulated A/A checks on resampled pairs of the pool: false-positive rate and pairs used."""
    n = pool_size(current, reference)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    results = []
    for _ in range(checks):
        order = rng.sample(range(n), horizon) if n >= horizon else [rng.randrange(n) for _ in range(horizon)]
        results.append(one_check(current, reference, order, stored, baseline_path, policies_path, horizon,
                                 min_pairs, mode, sd_confidence))
    rate = stats.false_positive_rate([bool(r["regressed"]) for r in results])
    pairs = sorted(r["pairs"] for r in results)
    flagged: dict[str, int] = {}
    for r in results:
        for name in r["regressed"]:
            flagged[name] = flagged.get(name, 0) + 1
    return {"checks": checks, "pool_pairs": n, "resampling": "without replacement" if n >= horizon else
            "with replacement", "seed": seed, "false_positives": rate.count, "rate": rate.rate,
            "upper_95": rate.upper_95, "flagged": flagged, "pairs_median": median(pairs),
            "pairs_p90": pairs[int(0.9 * (len(pairs) - 1))], "pairs_max": pairs[-1],
            "undecided": sum(r["stopped"] == "the most pairs" for r in results),
            "seconds": round(time.perf_counter() - t0, 1)}


def noise(current: dict, reference: dict, policies, horizon: int) -> list[dict]:
    """Per gated time or throughput: the sd of the pairs' log ratios, the policy's floor, and the
    minimum detectable worsening at ``horizon`` pairs with the noise the gate would use there (the
    floor, or the upper bound of this sd from ``horizon`` pairs)."""
    ref_by = recordmod.by_name(reference)
    alphas = policies.gate.alphas(rules.family(policies, [m for m in current["measurements"] if m["name"] in ref_by]))
    rows = []
    for m in current["measurements"]:
        pol = policies.for_measurement(m["name"], m["kind"])
        if m["kind"] not in rules.TIME_KINDS or m["name"] not in alphas or pol.rule != "significance":
            continue
        d = seq.log_ratios(ref_by[m["name"]]["samples"], m["samples"])
        if not d or len(d) < 3:
            continue
        sd, floor = stdev(d), seq.log_of_pct(pol.pair_sd_pct or 0.0)
        used = max(floor, sd * seq.sd_upper_factor(horizon, policies.gate.sd_confidence))  # the sd at the last look
        rows.append({"name": m["name"], "pairs": len(d), "sd_pct": 100 * sd, "floor_pct": pol.pair_sd_pct,
                     "alpha": alphas[m["name"]], "mean_pct": seq.pct(sum(d) / len(d)),
                     "sd_upper95_pct": 100 * sd * seq.sd_upper_factor(len(d), 0.95),
                     "mde_pct": sequential_detectable_pct(pol, used, alphas[m["name"]], horizon)})
    return rows


def same_readings(pools: dict[str, tuple[dict, dict]]) -> dict:
    """Memory (anonymous peaks) and ranking metrics per mode: medians, to show duet and alternating
    pairs read the same."""
    out = {}
    for mode, (cur, _) in pools.items():
        out[mode] = {m["name"]: median(m["samples"]) for m in cur["measurements"]
                     if m["name"].endswith("peak_anon_bytes") or m["name"].startswith("quality.")}
    return out
