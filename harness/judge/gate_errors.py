"""Calibration of the sequential gate, from three sources:

1. real checks through the gate, accumulated across sessions and hosts in a ledger
   (harness/documents/real_checks.py): the only independent trials of the whole gate, so the only
   source of a bound on its false-positive rate (``ledger_summary``);
2. recorded pairs resampled in blocks that keep their session order (``simulate``): the family-wise A/A
   rate with early stopping and the pairs a verdict takes, on the host's own noise; the pool holds few
   independent blocks (reported), so no bound;
3. the rule as coded (harness/judge/sequential.py ``simulate``) at the measured noise: the power table
   of each gated measurement (``power_table``) and false positives at 1x, 2x and 4x that noise with
   Gaussian, t3 and AR(1) 0.6 noise, and AR(1) at the largest serial correlation the ledger's real
   checks are consistent with (``robustness``, ``ar_bound``).

Pure: reads merged run records and ledger rows, runs nothing. A "pool" is the current code's merged
record and the reference's, run as pairs in one session (sample i of each measurement on both sides is
pair i). A simulated check looks after each resampled pair exactly as `check` does: the one judge
(harness/judge/decide.py) and the gate's stop rule (harness/judge/decide.py::stop_reason). So the
simulation tests the gate's code, not a model of it.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from statistics import median, stdev
from typing import TypedDict

from harness.documents import record as recordmod
from harness.documents.record_types import RunRecord
from harness.judge import rules, stats
from harness.judge import sequential as seq
from harness.judge.significance import sequential_rule, threshold_pct

WORSENINGS = (1, 2, 3, 4, 5, 7, 10)  # percent: the power table's rows
BLOCK = 4  # pairs per block when a simulated check resamples a pool (order kept within a block)
SCALES = (1, 2, 4)  # the robustness table's noise: these multiples of the measured pair sd


class NoiseShape(TypedDict, total=False):
    """The noise keywords of ``sequential.simulate``."""

    tail_df: float  # Student t tails of this many degrees of freedom
    ar: float  # AR(1) correlation between successive pairs' log ratios


# the robustness table's noise shapes
NOISE_MODELS: dict[str, NoiseShape] = {"gaussian": {}, "t3": {"tail_df": 3.0}, "AR(1) 0.6": {"ar": 0.6}}


def analyse(pools: dict, policies, stored, baseline_path, policies_path, comparisons: int, seed: int,
            plant: tuple[str, float] | None, seconds: dict, ar_host: float | None = None) -> dict:
    """The sequential calibration of every pool ({mode: (current merged, reference merged)}): noise,
    simulated A/A checks resampled from the pool, the rule's false positives at 1-4x the measured noise
    (``robustness``; ``ar_host``: the ledger's bound of the serial correlation), the planted slowdown
    ``plant`` (stage, fraction) and the readings per mode. ``seconds``: {mode: wall seconds per pair}, as
    measured by whoever ran the pairs."""
    g = policies.gate
    doc = {"horizon": g.repeat, "min_pairs": g.min_pairs, "max_pairs": g.max_pairs, "modes": {}}
    for mode, (cur, ref) in pools.items():
        def sim(c: RunRecord, ref: RunRecord = ref, mode: str = mode) -> dict:
            return simulate(c, ref, stored, baseline_path, policies_path, g, mode, comparisons, seed)

        doc["modes"][mode] = {
            "pairs": pool_size(cur, ref), "seconds_per_pair": seconds.get(mode),
            "noise": noise(cur, ref, policies), "aa": sim(cur),
            "robustness": robustness({n: (rule, stdev(d))
                                      for n, (rule, d, _) in gated_rules(cur, ref, policies).items()},
                                     ar_host=ar_host),
            "planted": {"stage": plant[0], "fraction": plant[1], **sim(planted(cur, *plant))} if plant else None}
    doc["readings"] = same_readings(pools)
    return doc


def with_checks(doc: dict, hosts: dict, checks: list[dict], ledger: dict | None, ledger_path) -> dict:
    """``analyse``'s ``doc`` with what else used the host during each mode's pairs (``hosts``: {mode:
    summary}), the real checks (their records left out) and ``ledger``, the ``ledger_summary`` of the
    ledger's rows (None without any)."""
    modes = {m: {**v, "host": hosts[m]} if m in hosts else v for m, v in doc["modes"].items()}
    out = {**doc, "modes": modes,
           "checks": [{k: v for k, v in c.items() if k not in ("record", "reference_record", "pairs_by_name")}
                      for c in checks]}
    if ledger:
        out |= {"ledger": ledger, "ledger_path": str(ledger_path)}
    return out


def pooled(records: Sequence[RunRecord]) -> RunRecord:
    """One merged record of several (merged or single) records: samples in order."""
    merged = recordmod.merge_repetitions(records)
    merged["repeat"] = sum(r["repeat"] for r in records)
    return merged


def pool_size(current: RunRecord, reference: RunRecord) -> int:
    """Pairs in a pool: the repetitions both sides have."""
    return min(current["repeat"], reference["repeat"])


def subset(rec: RunRecord, idx: list[int]) -> RunRecord:
    """The merged record of the repetitions ``idx`` of ``rec`` (measurements with one sample per repetition)."""
    n = rec["repeat"]
    ms = [recordmod.measurement(m["name"], [m["samples"][i] for i in idx])
          for m in rec["measurements"] if len(m["samples"]) == n]
    return {**rec, "measurements": ms, "repeat": len(idx)}


def planted(rec: RunRecord, stage: str, fraction: float, kind: str = "spin") -> RunRecord:
    """``rec`` as if faults.slowdown_stage = ``stage`` had slowed it by ``fraction`` of the stage's time
    in every repetition (faults.slowdown_kind ``kind``): the stage's and the total's wall time grow, and
    with "spin" their CPU time by as much; nothing else does."""
    by = recordmod.by_name(rec)
    extra = [fraction * s for s in by[f"{stage}.wall_s"]["samples"]]
    names = [f"{stage}.wall_s", "total.wall_s"] + ([f"{stage}.cpu_s", "total.cpu_s"] if kind == "spin" else [])
    grown = {n: by[n]["samples"] for n in names if n in by}
    ms = [recordmod.measurement(m["name"], [s + e for s, e in zip(grown[m["name"]], extra, strict=False)])
          if m["name"] in grown else m for m in rec["measurements"]]
    return {**rec, "measurements": ms}


def settings(gate, pairs: int, final: bool = False) -> dict:
    """The sequential settings a check's judge reads (harness/pairing/gate.py ``_Looks.settings``)."""
    return {"repeat": gate.repeat, "min_pairs": gate.min_pairs, "max_pairs": max(gate.max_pairs, gate.repeat),
            "design_pairs": gate.design_pairs, "pairs": pairs, "final": final}


def in_session(ref: RunRecord, gate, mode: str, final: bool = False) -> dict:
    """The judge's in-session argument for a simulated look (harness/pairing/gate.py::_in_session's shape)."""
    prov = {"commit": "calibration", "runs": ref["repeat"], "paired": True, "mode": mode, "arms": 2}
    return {"record": ref, "provenance": prov, "cross": None, "changed": (), "code_range": "", "notes": (),
            "sequential": settings(gate, ref["repeat"], final)}


def one_check(current: RunRecord, reference: RunRecord, order: list[int], stored: dict | None, baseline_path,
              policies_path, gate, mode: str) -> dict:
    """Look after each pair of ``order`` as `check` does (the one judge and its stop rule); the verdict
    where it stops."""
    from harness.judge.decide import stop_reason, verdict_of

    first = None
    cap = len(order)
    for n in range(gate.min_pairs, cap + 1):
        idx = order[:n]
        verdict = verdict_of(subset(current, idx), baseline_path, policies_path, stored=stored,
                        in_session=in_session(subset(reference, idx), gate, mode))
        if first is None and any(m.verdict == "regressed" for m in verdict.measurements):
            first = n
        why = stop_reason(verdict, n, gate.repeat, cap, None if first is None else first + gate.extra_pairs)
        if why or n == cap:
            failed = [m.name for m in verdict.measurements if m.verdict == "regressed"]
            return {"pairs": n, "stopped": why or "the most pairs", "regressed": failed, "overall": verdict.overall}
    raise AssertionError("unreachable: the loop returns at the cap")


def simulate(current: RunRecord, reference: RunRecord, stored: dict | None, baseline_path, policies_path, gate,
             mode: str, checks: int, seed: int, block: int = BLOCK) -> dict:
    """``checks`` simulated A/A checks on the pool's pairs, resampled in blocks that keep their order
    (``block_order``): false-positive rate and pairs used. The pairs come from one pool, so the checks are
    NOT independent trials: the pool holds ``independent`` non-overlapping blocks of ``block`` pairs, and
    about pool / median pairs independent checks' worth of data; no bound is given."""
    n = pool_size(current, reference)
    cap = max(gate.max_pairs, gate.repeat)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    results = []
    for _ in range(checks):
        results.append(one_check(current, reference, block_order(n, cap, block, rng), stored, baseline_path,
                                 policies_path, gate, mode))
    rate = stats.false_positive_rate([bool(r["regressed"]) for r in results])
    pairs = sorted(r["pairs"] for r in results)
    flagged: dict[str, int] = {}
    for r in results:
        for name in r["regressed"]:
            flagged[name] = flagged.get(name, 0) + 1
    size = min(block, n)
    return {"checks": checks, "pool_pairs": n, "resampling": f"in blocks of {size} pairs in session order",
            "block": size, "blocks": max(1, n // size), "seed": seed, "false_positives": rate.count,
            "rate": rate.rate, "independent": max(1, n // max(1, int(median(pairs)))), "flagged": flagged,
            "pairs_median": median(pairs), "pairs_p90": pairs[int(0.9 * (len(pairs) - 1))], "pairs_max": pairs[-1],
            "undecided": sum(r["overall"] == "undecided" for r in results),
            "seconds": round(time.perf_counter() - t0, 1)}


def block_order(n: int, length: int, block: int, rng: random.Random) -> list[int]:
    """``length`` pair indices of a pool of ``n`` pairs: runs of ``block`` consecutive pairs (circular),
    each from a random start, so serial dependence within a block is kept (the moving-block bootstrap)."""
    size = max(1, min(block, n))
    out: list[int] = []
    while len(out) < length:
        start = rng.randrange(n)
        out += [(start + i) % n for i in range(size)]
    return out[:length]


def noise(current: RunRecord, reference: RunRecord, policies) -> list[dict]:
    """Per gated time or throughput: the sd of the pairs' log ratios, its 95% upper bound, the mean (the
    A/A bias), and the power table of the rule as coded at that sd (``power_table``)."""
    rows = []
    for name, (rule, d, alpha) in gated_rules(current, reference, policies).items():
        sd = stdev(d)
        rows.append({"name": name, "pairs": len(d), "sd_pct": 100 * sd, "alpha": alpha,
                     "mean_pct": seq.log_pct(sum(d) / len(d)), "lag1": _lag1(d),
                     "sd_upper95_pct": 100 * sd * _sd_upper(len(d), 0.95),
                     "threshold_pct": seq.log_pct(rule.threshold), "margin_pct": seq.log_pct(rule.margin),
                     "power80_pct": _finite(seq.log_pct(seq.power_point(rule, sd))), "power": power_table(rule, sd)})
    return rows


def gated_rules(current: RunRecord, reference: RunRecord, policies) -> dict:
    """{name: (the sequential Rule the gate applies, the pairs' log ratios, its one-sided level)} of each
    gated time or throughput with at least 3 pairs in the pool."""
    ref_by = recordmod.by_name(reference)
    alphas = policies.gate.alphas(rules.family(policies, [m for m in current["measurements"] if m["name"] in ref_by]))
    out = {}
    for m in current["measurements"]:
        pol = policies.for_measurement(m["name"], m["kind"])
        if m["kind"] not in rules.TIME_KINDS or m["name"] not in alphas or pol.rule != "significance":
            continue
        d = seq.log_ratios(ref_by[m["name"]]["samples"], m["samples"])
        if not d or len(d) < 3:
            continue
        rule = sequential_rule(pol, threshold_pct(pol, median(ref_by[m["name"]]["samples"])),
                               settings(policies.gate, len(d)), alphas[m["name"]])
        out[m["name"]] = (rule, d, alphas[m["name"]])
    return out


def power_table(rule, sd: float, trials: int = 2000, seed: int = 0) -> list[dict]:
    """The rule as coded (``sequential.simulate``) at noise ``sd``, one row per true worsening of
    WORSENINGS: the share regressed, undecided and ok, and the pairs used (median, 90th percentile)."""
    rows = []
    for w in WORSENINGS:
        r = seq.simulate(rule, sd, seq.log_of_pct(w), trials, seed)
        rows.append({"worsening_pct": w, "regressed": r["regressed"], "undecided": r["undecided"],
                     "ok": r["ok"] + r["improved"], "pairs_median": r["pairs_median"], "pairs_p90": r["pairs_p90"]})
    return rows


def robustness(rules: dict, trials: int = 4000, seed: int = 0, ar_host: float | None = None) -> list[dict]:
    """False positives of the rule as coded (``sequential.simulate``: its looks, thresholds and stop rule)
    when nothing changed, at SCALES times each measurement's measured pair sd and in each of NOISE_MODELS
    (Gaussian; Student t3 tails; AR(1) correlation 0.6 between successive pairs' log ratios), and AR(1) at
    ``ar_host``, the largest correlation the host's real checks are consistent with (``ar_bound``), when
    given. ``rules``: {name: (Rule, measured sd)}. Each row: the share of ``trials`` independent simulated
    checks that flagged each measurement, and the family's rate bounded by their sum (Bonferroni: whatever
    their correlation)."""
    models: dict[str, NoiseShape] = dict(NOISE_MODELS)
    if ar_host is not None:
        models[f"AR(1) {ar_host:.2f} (host)"] = {"ar": ar_host}
    rows = []
    for scale in SCALES:
        for model, kw in models.items():
            each = {name: seq.simulate(rule, scale * sd, 0.0, trials, seed, **kw)["regressed"]
                    for name, (rule, sd) in rules.items() if sd and sd > 0}
            rows.append({"scale": scale, "model": model, "trials": trials, "each": each,
                         "family_at_most": min(1.0, sum(each.values()))})
    return rows


def ledger_summary(rows: list[dict], primary: str) -> dict:
    """What the real checks of a ledger (harness/documents/real_checks.py) say: per (plant, load), the
    checks, the days and CPU models they ran on and the hosts (CPU model and kernel: lines before the
    kernel was recorded count as one host per CPU model), how many regressed (for an A/A: false positives, with a
    95% Clopper-Pearson bound: these are independent trials), were undecided or ok, the median and 90th
    percentile seconds and pairs to a verdict, the gate's primary then ("primaries"), the median of its
    change and of its pair sd; the median and 90th percentile over checks of ``primary``'s own pair sd,
    from the pairs the lines keep ("ratio_sd_*": ``primary`` may be another gated time than the gate's
    primary then); and the lag-1 autocorrelation of ``primary``'s pair log ratios pooled over
    the A/A checks with no load (each check's own mean removed: the sequential test assumes independent
    pairs). A planted slowdown is grouped by its faults.slowdown_kind too (a sleep adds no CPU time)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["plant"], r.get("plant_kind") or "", r["load"]), []).append(r)
    out = []
    for (plant, kind, load), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "none", kv[0])):
        secs = sorted(r["seconds"] for r in rs)
        pairs = sorted(r["pairs"] for r in rs if r.get("pairs"))
        sds = [r["sd_pct"] for r in rs if r.get("sd_pct") is not None]
        changes = [r["total_change_pct"] for r in rs if r.get("total_change_pct") is not None]
        ratio_sds = sorted(100 * stdev(d) for d in (_ratios(r, primary) for r in rs) if len(d) >= 2)
        g = {"plant": plant, "plant_kind": kind or None, "load": load, "checks": len(rs),
             "primaries": sorted({r.get("primary") or "?" for r in rs}), "days": sorted({r["date"][:10] for r in rs}),
             "cpus": sorted({r.get("cpu") or "?" for r in rs}),
             "hosts": len({(r.get("cpu"), r.get("os")) for r in rs}),
             "regressed": sum(r["overall"] == "regressed" for r in rs),
             "undecided": sum(r["overall"] == "undecided" for r in rs),
             "ok": sum(r["overall"] in ("ok", "improved") for r in rs),
             "seconds_median": median(secs), "seconds_p90": _p90(secs),
             "pairs_median": median(pairs) if pairs else None, "pairs_p90": _p90(pairs) if pairs else None,
             "sd_median_pct": median(sds) if sds else None,
             "change_median_pct": median(changes) if changes else None,
             "ratio_sd_checks": len(ratio_sds), "ratio_sd_median_pct": median(ratio_sds) if ratio_sds else None,
             "ratio_sd_p90_pct": _p90(ratio_sds) if ratio_sds else None}
        if plant == "none":
            g["false_positive_upper95"] = stats.false_positive_rate(
                [r["overall"] == "regressed" for r in rs]).upper_95
        out.append(g)
    checks = [d for d in (_ratios(r, primary) for r in rows if r["plant"] == "none" and r["load"] == "none")
              if len(d) >= 3]
    num = den = null = 0.0
    lags = 0
    for d in checks:
        m = sum(d) / len(d)
        num += sum((a - m) * (b - m) for a, b in itertools.pairwise(d))
        den += sum((x - m) ** 2 for x in d)
        lags += len(d) - 1
        null += (len(d) - 1) / len(d)  # E[numerator] / sigma^2 of independent pairs is -(n - 1) / n
    # Removing each check's mean biases the estimate low: independent pairs give about ``lag1_null``,
    # give or take ``lag1_spread`` (1.96 / sqrt(successive pairs)).
    lag1 = num / den if den else None
    return {"primary": primary, "groups": out, "lag1": lag1, "lag1_pairs": lags,
            "lag1_null": -null / lags if lags else None, "lag1_spread": 1.96 / math.sqrt(lags) if lags else None,
            "ar_upper95": ar_bound([len(d) for d in checks], lag1) if lag1 is not None else None}


AR_GRID = tuple(round(0.05 * k, 2) for k in range(19))  # the AR(1) correlations ``ar_bound`` tries: 0 to 0.9


def ar_bound(lengths: list[int], reading: float, reps: int = 2000, seed: int = 0) -> float:
    """The largest AR(1) correlation between successive pairs (on AR_GRID) that real checks of these
    ``lengths`` pairs are consistent with: a correlation is ruled out when fewer than 5% of ``reps``
    simulated ledgers of that correlation (Gaussian, stationary, each check's mean removed as
    ``ledger_summary`` does) read a pooled lag-1 as low as ``reading``. A one-sided 95% bound of the
    host's serial correlation, from its own independent checks, for ``robustness``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    bound = 0.0
    for rho in AR_GRID:
        num = np.zeros(reps)
        den = np.zeros(reps)
        for n, count in Counter(lengths).items():  # every check of n pairs at once: (reps, count, n)
            e = rng.standard_normal((reps, count, n))
            for i in range(1, n):
                e[..., i] = rho * e[..., i - 1] + math.sqrt(1 - rho * rho) * e[..., i]
            c = e - e.mean(axis=2, keepdims=True)
            num += (c[..., 1:] * c[..., :-1]).sum(axis=(1, 2))
            den += (c * c).sum(axis=(1, 2))
        if np.mean(num / den <= reading) < 0.05:
            break
        bound = rho
    return bound


def _ratios(row: dict, name: str) -> list[float]:
    """A ledger row's log ratios current / reference of ``name``, pair by pair."""
    return [math.log(c / b) for b, c in (row.get("pairs_by_name") or {}).get(name, []) if b > 0 and c > 0]


def _p90(xs: list) -> float:
    """The 90th percentile of sorted ``xs`` (nearest rank below)."""
    return xs[int(0.9 * (len(xs) - 1))]


def _finite(x: float) -> float | None:
    """None for an infinite figure (no worsening up to doubling is flagged in 80%): JSON has no inf."""
    return x if x == x and abs(x) != float("inf") else None


def _lag1(d: list[float]) -> float | None:
    """Lag-1 autocorrelation of the pairs' log ratios: the sequential test assumes independent pairs."""
    if len(d) < 4:
        return None
    m = sum(d) / len(d)
    den = sum((x - m) ** 2 for x in d)
    return sum((a - m) * (b - m) for a, b in itertools.pairwise(d)) / den if den else None


def _sd_upper(n: int, confidence: float) -> float:
    """s_n times this is the one-sided ``confidence`` upper bound of sigma from ``n`` values (chi-square)."""
    from scipy.stats import chi2

    return (((n - 1) / float(chi2.ppf(1 - confidence, n - 1))) ** 0.5)


def same_readings(pools: dict[str, tuple[RunRecord, RunRecord]]) -> dict:
    """Memory (anonymous peaks) and ranking metrics per mode: medians, to show duet and alternating
    pairs read the same."""
    out = {}
    for mode, (cur, _) in pools.items():
        out[mode] = {m["name"]: median(m["samples"]) for m in cur["measurements"]
                     if m["name"].endswith("peak_anon_bytes") or m["name"].startswith("quality.")}
    return out
