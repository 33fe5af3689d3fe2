"""The A/A calibration of the comparison policy: measured noise, detectable effects, false positives.

Pure: reads run records only (`t4rec-bench calibrate` runs them, harness/commands/calibrate.py).
``analyse`` reports per measurement its noise, policy, one-sided alpha, practical threshold and
minimum detectable effect (MDE); the design table of the primary endpoint; and the false-positive
rate of A/A comparisons judged by harness/judge/compare.py itself. The threshold, MDE and speed
normalisation come from harness/judge/significance.py, the functions the verdicts use, so the
calibration and the verdicts cannot disagree.
"""

from __future__ import annotations

import math
from statistics import median

from harness.documents.record import by_name, speeds
from harness.documents.record_types import RunRecord
from harness.judge import rules, stats
from harness.judge.significance import at_speed, detectable_pct, equivalence_margin_pct, normalises, threshold_pct

DESIGNS = ((1, 10), (1, 20), (5, 20), (10, 20), (10, 30))  # (new runs, baseline runs) always shown
AB_DESIGNS = ((5, 5), (8, 8), (10, 10), (12, 12), (15, 15), (20, 20))  # (new runs, reference runs)


def analyse(records: list[RunRecord], baseline_size: int, current_size: int = 1, policies=None,
            comparisons: int = 100, seed: int = 0, ordered: bool = False,
            reference: list[RunRecord] | None = None) -> dict:
    """Noise, design table and (if the runs suffice) the A/A false-positive rate over ``records``.

    ``reference``: a second pool, run in the same session alternating with ``records`` (the
    in-session design): comparisons then draw the current group from ``records`` and the
    baseline group from ``reference``, judged with the in-session thresholds; the noise rows
    and the design table pool both.
    """
    from harness.judge import policy

    policies = policies or policy.load()
    records = sorted(records, key=lambda r: r["started_at"]) if ordered else records
    every = records + (reference or [])
    names = [n for n in dict.fromkeys(m["name"] for r in every for m in r["measurements"])
             if all(n in by_name(r) for r in every)]
    family = rules.family(policies, [by_name(every[0])[n] for n in names])
    alphas = policies.gate.alphas(family)
    refs = reference or []
    paired = bool(refs) and len(records) == len(refs) and current_size == baseline_size
    def pair_sd(n: str) -> float | None:
        return _pair_sd(n, records, refs) if paired else None

    rows = {n: _noise_row(n, every, _policy(policies, every, n), alphas.get(n), baseline_size, current_size,
                          pair_sd(n)) for n in names}
    fits = (current_size <= len(records) and baseline_size <= len(reference) if reference
            else baseline_size + current_size <= len(records))
    doc = {"runs": len(records), "reference_runs": len(reference or []), "baseline_size": baseline_size,
           "current_size": current_size, "gate": _gate_doc(policies.gate, family),
           "design": _design(every, policies, in_session=bool(reference), sd_for_mde=pair_sd(policies.gate.primary)
                             if policies.gate.primary in names else None),
           "seconds_per_run": _seconds_per_run(every), "aa": None,
           "aa_note": None if fits else _no_fit_note(len(records), baseline_size, current_size)}
    if fits and reference:
        doc["aa"] = _aa_two_pools(records, reference, baseline_size, current_size, comparisons, seed, policies, rows)
    elif fits:
        doc["aa"] = _aa(records, baseline_size, current_size, comparisons, seed, policies, rows, ordered)
    doc["measurements"] = list(rows.values())
    return doc


def _policy(policies, records, name):
    m = by_name(records[0])[name]
    return policies.for_measurement(name, m["kind"])


def _values(name: str, records: list[RunRecord], pol=None) -> list[float]:
    """Each record's value of ``name`` (its median), speed-normalised if the policy normalises on one machine."""
    out = [by_name(r)[name]["value"] for r in records]
    if pol is not None and normalises(pol, by_name(records[0])[name]["kind"], same_machine=True):
        return _normalised(name, records) or out
    return out


def _pair_sd(name: str, records: list[RunRecord], reference: list[RunRecord]) -> float | None:
    """Noise of one run within a pair of alternating runs: sd(log c_i - log r_i) / sqrt(2), runs
    in time order. Drift between pairs does not count: the paired test does not see it."""
    import math
    from statistics import stdev

    def by_time(rs: list[RunRecord]) -> list[RunRecord]:
        return sorted(rs, key=lambda r: r["started_at"])

    c, r = ([by_name(x)[name]["value"] for x in by_time(p)] for p in (records, reference))
    if min(c + r) <= 0 or len(c) < 3:
        return None
    return stdev(math.log(a) - math.log(b) for a, b in zip(c, r, strict=True)) / math.sqrt(2)


def _noise_row(name: str, records: list[RunRecord], pol, alpha: float | None, n_base: int, n_cur: int,
               pair_sd: float | None = None) -> dict:
    m = by_name(records[0])[name]
    values = _values(name, records, pol)
    s = stats.summary(values)
    logs = stats.log_values(values) if len(values) > 1 else None
    sd_log = stats.summary(logs).stdev if logs else None
    level = alpha if alpha is not None else (1 - pol.confidence) / 2
    paired = pair_sd is not None and m["kind"] in rules.TIME_KINDS
    if paired:
        sd_log = pair_sd  # the paired t test's noise (compare.py: times against the in-session reference)
    mde = (_finite(detectable_pct(pol, sd_log, n_base, n_cur, level, not m["higher_is_better"], paired=paired))
           if pol.rule == "significance" and sd_log is not None else None)
    norm = _normalised(name, records)
    return {"name": name, "unit": m["unit"], "kind": m["kind"], "policy": pol.name, "rule": pol.rule,
            "gated": pol.rule != "report-only", "alpha": alpha, "n": s.n, "median": s.median, "mad": s.mad,
            "cv": s.cv, "robust_cv": s.robust_cv,
            "cv_normalised": stats.summary(norm).cv if norm and len(norm) > 1 else None,
            "sd_log": sd_log, "threshold_pct": threshold_pct(pol, s.median) if pol.rule == "significance" else None,
            "min_detectable_pct": mde, "false_regressed": None, "false_improved": None, "undecided_share": None}


def _normalised(name: str, records: list[RunRecord]) -> list[float] | None:
    """Each run's value per unit of its machine speed (significance.at_speed at a probe time of 1 s);
    None unless ``name`` is a time or throughput and every run has machine_speed.speed_s."""
    out = []
    for r in records:
        m = by_name(r).get(name)
        speed = speeds(r)
        if m is None or m["kind"] not in rules.TIME_KINDS or not speed:
            return None
        out += at_speed([m["value"]], speed, m["kind"], 1.0)
    return out


def _gate_doc(gate, family: list[str]) -> dict:
    from harness.judge.compare import family_note

    return {"family_alpha": gate.family_alpha, "primary": gate.primary, "alpha_primary": gate.alpha_primary,
            "repeat": gate.repeat, "baseline_runs": gate.baseline_runs, "family_size": len(family),
            "note": family_note(gate, family) if family else "no gated measurements"}


def _finite(mde: float | None) -> float | None:
    """A detectable change for a document: None also where the design can detect nothing (inf: the
    rank rule cannot reach its alpha with so few runs), so a table shows "-" and no design is picked."""
    return None if mde is None or math.isinf(mde) else mde


def _design(records: list[RunRecord], policies, in_session: bool = False,
            sd_for_mde: float | None = None) -> dict | None:
    """MDE of the primary endpoint for several configurations and the smallest one meeting its bar."""
    gate = policies.gate
    if not all(gate.primary in by_name(r) for r in records) or len(records) < 3:
        return None
    pol = _policy(policies, records, gate.primary)
    logs = stats.log_values(_values(gate.primary, records, pol))
    if logs is None:
        return None
    paired = sd_for_mde is not None
    # paired design: the noise within a pair of alternating runs
    sd = sd_for_mde if sd_for_mde is not None else stats.summary(logs).stdev
    if sd is None:  # one value: no spread to size a design with
        return None
    robust = stats.robust_sd(logs)
    def mde(c: int, b: int) -> float | None:
        return _finite(detectable_pct(pol, sd, b, c, gate.alpha_primary, paired=paired and b == c))

    configs = list(dict.fromkeys((AB_DESIGNS + ((gate.repeat, gate.repeat),)) if in_session
                                 else (DESIGNS + ((gate.repeat, gate.baseline_runs),))))
    rows = [{"current": c, "baseline": b, "mde_pct": mde(c, b),
             "mde_t_pct": stats.min_detectable_pct(sd, b, c, gate.alpha_primary, pol.power)}
            for c, b in configs]
    limit = equivalence_margin_pct(pol, pol.threshold_pct)
    if in_session or pol.test == "rank":
        searched = AB_DESIGNS if in_session else [(c, b) for c in range(2, 11) for b in (10, 15, 20, 25, 30, 35, 40)]
        best = next(((c, b, m) for c, b in searched if (m := mde(c, b)) is not None and m <= limit), None)
    else:
        best = stats.smallest_design(sd, gate.alpha_primary, limit, pol.power)
    return {"measurement": gate.primary, "alpha": gate.alpha_primary, "power": pol.power, "sd_log": sd,
            "in_session": in_session, "test": pol.test, "paired": paired,
            "robust_sd_log": robust, "limit_pct": limit, "rows": rows,
            "smallest": None if best is None else {"current": best[0], "baseline": best[1], "mde_pct": best[2]}}


def _seconds_per_run(records: list[RunRecord]) -> float | None:
    """Median wall time of one run record (start to finish, worker start-up included), per repetition."""
    import datetime as dt

    try:
        spans = [(dt.datetime.fromisoformat(r["finished_at"]) - dt.datetime.fromisoformat(r["started_at"]))
                 .total_seconds() / max(1, r.get("repeat", 1)) for r in records]
    except (KeyError, TypeError, ValueError):
        return None
    return median(spans) if spans else None


def _no_fit_note(k: int, n_base: int, n_cur: int) -> str:
    fits = [(c, k - c) for c in (10, 5, 1) if k - c >= 2]
    hint = ", ".join(f"--current-size {c} --baseline-size {b}" for c, b in fits) or "more runs"
    return (f"false-positive rate not estimated: {k} runs cannot hold a baseline of {n_base} plus a current "
            f"group of {n_cur} ({n_base + n_cur} runs needed). Configurations that fit: {hint}")


# --- A/A comparisons ----------------------------------------------------------------------------

def _aa(records, n_base: int, n_cur: int, comparisons: int, seed: int, policies, rows: dict,
        ordered: bool = False) -> dict:
    mode, splits = stats.aa_splits(len(records), n_base, n_cur, comparisons, seed, ordered)
    verdicts = [_aa_verdict(records, cur, base, policies) for cur, base in splits]
    return _aa_summary(verdicts, rows, mode, seed, len(records) // (n_base + n_cur))


def _aa_two_pools(records, reference, n_base: int, n_cur: int, comparisons: int, seed: int, policies,
                  rows: dict) -> dict:
    """A/A of the in-session design: current groups from ``records``, reference groups from ``reference``."""
    from harness.documents import baseline
    from harness.judge.compare import compare

    paired = len(records) == len(reference) and n_cur == n_base  # alternating pools: run i of each side a pair
    if paired:
        records, reference = (sorted(p, key=lambda r: r["started_at"]) for p in (records, reference))
    mode, splits = stats.aa_two_pools(len(records), len(reference), n_cur, n_base, comparisons, seed, paired)
    verdicts = []
    for cur, ref in splits:
        doc = baseline.from_records([reference[i] for i in ref])
        verdicts.append(compare(_current(records, cur), doc, policies,
                                reference={"record": doc["record"], "provenance": {"paired": paired}}))
    mode = f"{mode}, paired" if paired else mode
    return _aa_summary(verdicts, rows, mode, seed, min(len(records) // n_cur, len(reference) // n_base))


def _aa_summary(verdicts, rows: dict, mode: str, seed: int, disjoint_possible: int) -> dict:
    for name, row in rows.items():
        mine = [m for v in verdicts for m in v.measurements if m.name == name]
        row["false_regressed"] = _rate(stats.false_positive_rate(m.verdict == "regressed" for m in mine))
        row["false_improved"] = _rate(stats.false_positive_rate(m.verdict == "improved" for m in mine))
        row["undecided_share"] = sum(m.verdict == "undecided" for m in mine) / len(mine)
    gate = stats.false_positive_rate(v.overall == "regressed" for v in verdicts)
    return {"splits": mode, "seed": seed, "comparisons": len(verdicts), "disjoint_possible": disjoint_possible,
            "gate_false_positive": _rate(gate),
            "gate_overall": {v: sum(x.overall == v for x in verdicts) for v in sorted({x.overall for x in verdicts})}}


def _aa_verdict(records, cur, base, policies):
    from harness.documents import baseline
    from harness.judge.compare import compare

    return compare(_current(records, cur), baseline.from_records([records[i] for i in base]), policies)


def _current(records: list[RunRecord], idx) -> RunRecord:
    """The current group ``idx`` of ``records`` as one record (its repetitions merged)."""
    from harness.documents import record

    group = [records[i] for i in idx]
    return group[0] if len(group) == 1 else record.merge_repetitions(group)


def _rate(rate) -> dict:
    return {"count": rate.count, "n": rate.n, "rate": rate.rate, "upper_95": rate.upper_95}
