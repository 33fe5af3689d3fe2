"""Verdicts: a run record against a baseline, one verdict per measurement and one overall.

``compare(run, baseline)`` reads only the two records (and the policy file); it never
measures. Each measurement is judged by the first matching policy in ``policies.toml``, by the
rule the policy names (``RULES``; the verdict types are harness/judge/verdict.py's):

- time, throughput, memory ("significance", harness/judge/significance.py): regressed/improved
  only if the change is significant in that direction (a one-sided test at the measurement's
  alpha) AND beyond max(threshold_pct, min_change). The policy's ``test``: "rank" (times,
  throughputs) is scipy's Mann-Whitney U on log values with the Hodges-Lehmann change and its bounds; "t" (memory) is
  Student's t on log values with the noise pooled over both groups. With one current run
  either is the baseline's t prediction interval (noise band). Against an in-session reference
  run alternately with this run, times use the paired t on the log ratios of the pairs (drift
  within the session cancels in a pair; stats.paired_log_ratio_test says why not a rank test).
  The alphas come from the ``[gate]`` budget: the primary endpoint (total.wall_s) gets
  alpha_primary, the other gated measurements share the rest (Bonferroni), so noise alone fails
  the gate in at most family_alpha of comparisons. Times are speed-normalised
  (machine_speed.speed_s) only where the policy says so.
- metrics and loss ("exact-or-seed-spread", harness/judge/rules.py): exact within the policy's
  exact_tolerance when the environment fingerprint matches and the runs are deterministic; else
  a tolerance from the baseline's multi-seed spread.
- counts ("exact"): any change is a regression.
- "report-only": shown with its change, never gated.

Times and throughputs are judged against an in-session reference when one is given (the
baseline's commit re-run in this session, interleaved with this run: harness/pairing/reference.py),
at the policy's threshold_pct; against the stored baseline, measured in another session, the
practical threshold is at least the policy's cross_session_pct (the machine drifts between
sessions). Each measurement's ``against`` says which it was judged against.

A workload-hash mismatch makes every measurement ``incomparable`` (exit 3). An environment
difference (say a torch upgrade) does not: times are still compared, so the upgrade's
regression shows, metrics fall back to tolerances, and the difference is listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.documents.record import by_name, speeds
from harness.documents.record_types import Environment, Measurement, RunRecord
from harness.judge import rules
from harness.judge.rules import QUALITY_KINDS, TIME_KINDS, Context
from harness.judge.significance import significance
from harness.judge.verdict import SEVERITY, MeasurementVerdict, Verdict, exit_code, make, worst
from harness.measure import environment as envmod

# environment fields whose differences are shown (git commit and the fingerprint itself are not)
ENV_KEYS = ("python", "os", "cpu_model", "cpu_count", "ram_bytes", "packages", "distributions", "cuda",
            "machine_class", "numerics_fingerprint")
MACHINE_KEYS = ("cpu_model", "cpu_count", "ram_bytes", "machine_class")


def compare(run: RunRecord, baseline: dict, policies=None, baseline_path: str | None = None,
            reference: dict | None = None) -> Verdict:
    """Judge ``run`` (a run record) against ``baseline`` (a baseline document, see harness.documents.baseline).

    ``reference``: {"record": run record, "provenance": {...}} of the in-session reference
    (harness.pairing.reference); its times replace the stored baseline's for the time kinds.
    """
    from harness.judge import policy as policymod

    policies = policies or policymod.load()
    base_rec = baseline["record"]
    env_diff = _env_diff(base_rec["environment"], run["environment"])
    workload_match = base_rec["workload_hash"] == run["workload_hash"]
    extra, ref_rec = [], None
    if reference is not None:
        ref_rec = reference["record"]
        if ref_rec["workload_hash"] != run["workload_hash"]:
            extra.append("the in-session reference ran another workload ("
                         + (", ".join(_workload_diff(ref_rec["config"], run["config"])) or "hash only")
                         + "): times judged against the stored baseline")
            ref_rec = None
    arms = _Arms.of(reference) if reference is not None and ref_rec is not None else None
    if workload_match:
        ctx = _context(run, base_rec, baseline)
        if arms is not None and arms.sequential:
            ctx = dataclasses.replace(ctx, looks_from=arms.sequential["min_pairs"])
        items, family = _compare_all(run, base_rec, ctx, policies, arms)
        extra += family
        extra += _divergence_notes(run, base_rec, arms)
    else:
        items = _all_incomparable(run, base_rec)
    verdict = _verdict(run, baseline, baseline_path, env_diff, workload_match, items, extra,
                       policies.gate.on_undecided)
    if arms is not None and reference is not None:  # arms: the reference's workload matched
        verdict = dataclasses.replace(verdict, reference_provenance=dict(reference.get("provenance") or {}))
    return verdict


def no_baseline(run: RunRecord, baseline_path: str | None, why: str) -> Verdict:
    """The verdict when there is nothing to compare with: every measurement ``missing``."""
    items = [_blank(m, "missing", why) for m in run["measurements"]]
    return _verdict(run, None, baseline_path, [], False, items)


def _verdict(run, baseline, baseline_path, env_diff, workload_match, items, extra=(),
             on_undecided: str = "fail") -> Verdict:
    items = sorted(items, key=lambda v: SEVERITY.index(v.verdict))
    overall = "failed" if run["status"] != "ok" else worst(v.verdict for v in items)
    provenance = {k: v for k, v in ((baseline or {}).get("provenance") or {}).items() if k != "environment"}
    return Verdict(overall=overall, exit_code=exit_code(overall, on_undecided), run_id=run["run_id"],
                   profile=run["profile"],
                   baseline_path=None if baseline_path is None else str(baseline_path),
                   baseline_provenance=provenance, environment_diff=env_diff, workload_match=workload_match,
                   measurements=tuple(items), notes=(*_notes(run, baseline, workload_match), *extra),
                   etl_backend=run.get("etl_backend"))


def _env_diff(base_env: Environment, cur_env: Environment) -> list:
    """Differences in ENV_KEYS; the full distribution set only when both sides record it (older
    records list 19 packages: those are compared then)."""
    keys = [k for k in ENV_KEYS if k not in ("distributions", "numerics_fingerprint") or k in base_env]
    if "distributions" in base_env and "distributions" in cur_env:
        keys.remove("packages")
    def pick(e: Environment) -> dict:
        return {k: e.get(k) for k in keys}

    return envmod.diff(pick(base_env), pick(cur_env))


def _context(run: RunRecord, base_rec: RunRecord, baseline: dict) -> Context:
    b_env, c_env = base_rec["environment"], run["environment"]
    spread = (baseline.get("seed_spread") or {}).get("samples", {})
    same_env = b_env.get("fingerprint") == c_env.get("fingerprint")
    same_host = bool(b_env.get("numerics_fingerprint")) and b_env.get("numerics_fingerprint") == c_env.get(
        "numerics_fingerprint")
    return Context(env_match=same_env and same_host, differs_why=_differs_why(b_env, c_env, same_env),
                   same_machine=all(b_env.get(k) == c_env.get(k) for k in MACHINE_KEYS),
                   base_speed=tuple(speeds(base_rec)), cur_speed=tuple(speeds(run)),
                   seed_spread=spread, throttled=_throttle_reasons(run))


def _throttle_reasons(run: RunRecord) -> tuple[str, ...]:
    """Why the GPU was throttled during the run (record["gpu"]); empty when it was not."""
    gpu = run.get("gpu") or {}
    if not gpu.get("throttled"):
        return ()
    return tuple(gpu.get("throttle_reasons") or ("unknown reason",))


def _notes(run: RunRecord, baseline: dict | None, workload_match: bool) -> list[str]:
    notes = []
    f = run.get("failure")
    if run["status"] != "ok" and f:
        notes.append(f"the run failed in stage {f['stage']!r} ({f['kind']}): {f['message']}")
    if run.get("faults"):
        notes.append(f"injected faults in this run: {_fmt_dict(run['faults'])}")
    backends = ((baseline or {}).get("record", {}).get("etl_backend"), run.get("etl_backend"))
    if all(backends) and backends[0] != backends[1]:
        notes.append(f"the ETL ran on {backends[1]} in this run and on {backends[0]} in the baseline's runs")
    if baseline and not workload_match:
        changed = _workload_diff(baseline["record"]["config"], run["config"])
        notes.append("workload differs from the baseline's: " + (", ".join(changed) or "hash only")
                     + "; record a baseline for this workload")
    return notes


def _workload_diff(base_cfg: dict, cur_cfg: dict) -> list[str]:
    skip = ("profile", "instrument", "stage_timeout_s", "faults")
    rows = envmod.diff({k: v for k, v in base_cfg.items() if k not in skip},
                       {k: v for k, v in cur_cfg.items() if k not in skip})
    return [f"{key} {a!r} -> {b!r}" for key, a, b in rows]


def _fmt_dict(d: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in d.items())


def _blank(m: Measurement, verdict: str, reason: str, baseline: Measurement | None = None) -> MeasurementVerdict:
    cur = m if baseline is None or m is not baseline else None
    return make(m, baseline=baseline["value"] if baseline else None, current=cur["value"] if cur else None,
                verdict=verdict, reason=reason)


def _all_incomparable(run: RunRecord, base_rec: RunRecord) -> list[MeasurementVerdict]:
    base, cur = by_name(base_rec), by_name(run)
    why = (f"workload differs from the baseline's (hash {base_rec['workload_hash']} vs "
           f"{run['workload_hash']}): record a baseline for this workload")
    out = []
    for name in _names(base, cur):
        m = cur.get(name) or base[name]
        out.append(_blank(m, "incomparable", why, base.get(name)))
    return out


def _names(base: dict[str, Measurement], cur: dict[str, Measurement]) -> list[str]:
    return list(base) + [n for n in cur if n not in base]


@dataclass(frozen=True)
class _Arms:
    """The in-session arms by measurement name (harness.pairing.gate): reference, and cross when it ran."""
    ref: dict  # name -> measurement of the reference (baseline code, baseline environment)
    cross: dict  # name -> measurement of the cross arm (baseline code, current environment); {} if none
    paired: bool
    changed: tuple  # (distribution, reference environment's version, current version)
    code_range: str
    ref_record: dict
    cross_record: dict | None
    sequential: dict | None  # the sequential gate's settings (harness/pairing/gate.py); None: a fixed number of pairs
    mode: str | None  # how the pairs ran (the provenance's [gate] mode); None for older references
    partner: dict = dataclasses.field(default_factory=dict)  # name -> the reference's runs beside the cross arm

    @classmethod
    def of(cls, reference: dict) -> _Arms:
        rec, cross = reference["record"], reference.get("cross")
        return cls(by_name(rec), by_name(cross) if cross else {},
                   bool((reference.get("provenance") or {}).get("paired")),
                   tuple(tuple(t) for t in reference.get("changed") or ()), reference.get("code_range") or "",
                   rec, cross, reference.get("sequential") or None,
                   (reference.get("provenance") or {}).get("mode"),
                   by_name(reference["partner"]) if reference.get("partner") else {})


def _compare_all(run: RunRecord, base_rec: RunRecord, ctx: Context, policies,
                 arms: _Arms | None = None) -> tuple[list[MeasurementVerdict], list]:
    base, cur = by_name(base_rec), by_name(run)
    names = _names(base, cur)
    pairs = [(base.get(n), cur.get(n)) for n in names]
    chosen = [policies.for_measurement(c["name"], c["kind"]) if b and c else None for b, c in pairs]
    family = rules.family(policies, [c for b, c in pairs if b and c])
    alphas = policies.gate.alphas(family)
    out = []
    for name, pol in zip(names, chosen, strict=True):
        if name not in base:
            out.append(_blank(cur[name], "missing", "new measurement: the baseline has no value for it; "
                                                    "re-record the baseline to gate it"))
        elif name not in cur:
            out.append(_gone(run, base[name]))
        else:
            b, c = base[name], cur[name]
            pol = at_level(pol, alphas.get(c["name"]))
            in_session = _against_arms(b, c, ctx, pol, arms, run) if arms else None
            out.append(in_session or _with_spread(_judge(b, c, ctx, pol), b))
    return out, [family_note(policies.gate, family)] if family else []


def _with_spread(v: MeasurementVerdict, b: Measurement) -> MeasurementVerdict:
    return dataclasses.replace(v, comparand_low=min(b["samples"]), comparand_high=max(b["samples"]))


def _against_arms(b: Measurement, c: Measurement, ctx: Context, pol, arms: _Arms,
                  run: RunRecord) -> MeasurementVerdict | None:
    """Times against the reference (with the cause when a cross arm ran); ranking metrics and loss
    exactly against the arm in the current environment; None: judged against the stored baseline."""
    name = c["name"]
    if name not in arms.ref:
        return None
    paired = arms.paired and arms.ref_record.get("repeat") == run.get("repeat")
    same = dataclasses.replace(ctx, same_session=True, same_machine=True, paired=paired, env_match=True,
                               sequential=arms.sequential if paired else None, pair_mode=arms.mode if paired else None,
                               exact_why="exact: the in-session reference, same host and environment")
    if c["kind"] in TIME_KINDS:
        r = arms.ref[name]
        v = _with_spread(_judge(r, c, same, pol), r)
        v = dataclasses.replace(v, against="reference", reason=v.reason + "; vs the in-session reference")
        return _attributed(v, c, pol, arms) if arms.cross and v.verdict in ("regressed", "undecided") else v
    if c["kind"] not in QUALITY_KINDS:
        return None
    if not arms.cross:
        return dataclasses.replace(_with_spread(_judge(arms.ref[name], c, same, pol), arms.ref[name]),
                                   against="reference")
    x = arms.cross.get(name)
    if x is not None:  # the code's effect, exactly: same environment, same host
        v = _judge(x, c, dataclasses.replace(same, exact_why="exact: the baseline's code in this environment"), pol)
        if v.verdict != "ok":
            return dataclasses.replace(_with_spread(v, x), against="cross", cause=f"code: {arms.code_range}")
    from harness.judge.attribution import env_words

    other = dataclasses.replace(ctx, env_match=False,
                                differs_why=f"the environment differs ({env_words(arms.changed)})")
    v = _with_spread(_judge(arms.ref[name], c, other, pol), arms.ref[name])
    cause = f"environment: {env_words(arms.changed)}" if v.verdict != "ok" else ""
    return dataclasses.replace(v, against="reference", cause=cause)


def _attributed(v: MeasurementVerdict, c: Measurement, pol, arms: _Arms) -> MeasurementVerdict:
    """``v`` with the cause of the change: the code (current vs cross) or the environment (cross vs reference)."""
    from harness.judge import attribution

    x, r = arms.cross.get(c["name"]), arms.ref[c["name"]]
    if x is None or len(x["samples"]) != len(c["samples"]) or len(r["samples"]) != len(x["samples"]):
        return v
    alpha, threshold = (1 - pol.confidence) / 2, v.threshold_pct or pol.threshold_pct
    sequential = arms.sequential.get("design_pairs") if arms.sequential else None
    partner = (arms.partner.get(c["name"]) or {}).get("samples")
    before, env_base = attribution.beside(x["samples"], r["samples"], partner)
    code = attribution.effect("code", before, c["samples"], c["higher_is_better"], alpha, threshold, sequential)
    env = attribution.effect("environment", env_base, x["samples"], c["higher_is_better"], alpha, threshold,
                             sequential)
    cause = attribution.cause(code, env, arms.code_range, arms.changed)
    return dataclasses.replace(v, cause=cause, reason=f"{v.reason}; cause: {cause}" if cause else v.reason)


def _differs_why(b_env: Environment, c_env: Environment, same_env: bool) -> str:
    """Why metrics cannot be held to exactness against the stored baseline, in words."""
    if not same_env:
        return "the environment differs"
    if not b_env.get("numerics_fingerprint"):
        return "the baseline records no numerics fingerprint, so its host may compute differently"
    return f"the host's numerics differ ({_numerics_words(b_env.get('numerics') or {}, c_env.get('numerics') or {})})"


def _numerics_words(b: Mapping[str, Any], c: Mapping[str, Any]) -> str:
    """The numerics fields that differ between two hosts, briefly."""
    rows = envmod.diff({k: v for k, v in b.items() if k != "fingerprint"},
                       {k: v for k, v in c.items() if k != "fingerprint"})
    return "; ".join(f"{key} {_brief(x)} -> {_brief(y)}" for key, x, y in rows[:4]) or "fingerprint only"


def _brief(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))[:60] or "none"
    return str(v)


def _divergence_notes(run: RunRecord, base_rec: RunRecord, arms: _Arms | None) -> list[str]:
    """The first pipeline stage whose output differs from the stored baseline's (and the reference's)."""
    from harness.documents.record import first_divergence

    notes = []
    sides = [("the stored baseline", base_rec)] + ([("the in-session reference", arms.ref_record)] if arms else [])
    for what, rec in sides:
        first = first_divergence(rec.get("fingerprints") or {}, run.get("fingerprints") or {})
        if first:
            stage, old, new = first
            notes.append(f"data first differs from {what} at stage {stage!r} (fingerprint {old} -> {new})")
    b_env, c_env = base_rec["environment"], run["environment"]
    if b_env.get("numerics_fingerprint") != c_env.get("numerics_fingerprint"):
        notes.append("host numerics vs the stored baseline: " + (
            _numerics_words(b_env.get("numerics") or {}, c_env.get("numerics") or {})
            if b_env.get("numerics") else "the baseline records none (older format)"))
    return notes


def at_level(pol, alpha: float | None):
    """The policy with ``confidence`` set so that each direction is tested one-sided at ``alpha``."""
    return pol if alpha is None else dataclasses.replace(pol, confidence=1 - 2 * alpha)


def family_note(gate, family) -> str:
    """One sentence on how the gate's false-positive budget is split over ``family``."""
    alphas = gate.alphas(family)
    others = [n for n in family if n != gate.primary]
    pct = rules.reason_pct
    parts = [f"{gate.primary} (primary) at alpha {pct(100 * alphas[gate.primary])}"] if gate.primary in alphas else []
    if others:
        parts.append(f"the {len(others)} other gated measurements share {pct(100 * sum(alphas[n] for n in others))} "
                     f"(Bonferroni, {pct(100 * alphas[others[0]])} each)")
    return (f"one-sided tests: {', '.join(parts)}; noise alone fails the gate in at most "
            f"{pct(100 * gate.family_alpha)} of comparisons")


def _gone(run: RunRecord, b: Measurement) -> MeasurementVerdict:
    if run["status"] != "ok":
        f = run.get("failure")
        stage = f.get("stage") if f else None
        return _blank(b, "failed", f"the run failed in stage {stage!r} before measuring it", b)
    return _blank(b, "missing", "the run did not produce this measurement (it disappeared)", b)


RULES = {"significance": significance, "exact-or-seed-spread": rules.metric, "exact": rules.exact,
         "report-only": rules.report_only}  # policy rule -> the function that judges by it


def _judge(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    return RULES[pol.rule](b, c, ctx, pol)
