"""Verdicts: a run record against a baseline, one verdict per measurement and one overall.

``compare(run, baseline)`` reads only the two records (and the policy file); it never
measures. Each measurement is judged by the first matching policy in ``policies.toml``:

- time, throughput, memory ("significance"): regressed/improved only if the change is
  significant in that direction (a one-sided test at the measurement's alpha) AND beyond
  max(threshold_pct, min_change). The policy's ``test``: "rank" (times, throughputs) is scipy's
  Mann-Whitney U on log values with the Hodges-Lehmann change and its bounds; "t" (memory) is
  Student's t on log values with the noise pooled over both groups. With one current run
  either is the baseline's t prediction interval (noise band). Against an in-session reference
  run alternately with this run, times use the paired t on the log ratios of the pairs (drift
  within the session cancels in a pair; stats.paired_log_ratio_test says why not a rank test).
  The alphas come from the ``[gate]`` budget: the primary endpoint (total.wall_s) gets alpha_primary, the other gated measurements share the rest
  (Bonferroni), so noise alone fails the gate in at most family_alpha of comparisons.
  Times are speed-normalised (calibration.speed_s) only where the policy says so.
- metrics and loss ("exact-or-seed-spread"): exact within 1e-6 when the environment
  fingerprint matches and the runs are deterministic; else a tolerance from the baseline's
  multi-seed spread.
- counts ("exact"): any change is a regression.
- "report-only": shown with its change, never gated.

Times and throughputs are judged against an in-session reference when one is given (the
baseline's commit re-run in this session, interleaved with this run: harness/run/reference.py),
at the policy's threshold_pct; against the stored baseline, measured in another session, the
practical threshold is at least the policy's cross_session_pct (the machine drifts between
sessions). Each measurement's ``against`` says which it was judged against.

A workload-hash mismatch makes every measurement ``incomparable`` (exit 3). An environment
difference (say a torch upgrade) does not: times are still compared, so the upgrade's
regression shows, metrics fall back to tolerances, and the difference is listed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from statistics import median

from harness.documents.record import by_name
from harness.errors import EXIT_NO_BASELINE, EXIT_OK, EXIT_REGRESSED, EXIT_RUN_FAILED, HarnessError
from harness.judge import stats
from harness.measure import environment as envmod

FORMAT_VERSION = 1
KIND = "t4rec-bench/verdict"
VERDICTS = ("ok", "improved", "regressed", "unstable", "incomparable", "missing", "failed")
SEVERITY = ("failed", "regressed", "incomparable", "missing", "unstable", "improved", "ok")  # worst first
EXIT_CODES = {"failed": EXIT_RUN_FAILED, "regressed": EXIT_REGRESSED, "incomparable": EXIT_NO_BASELINE,
              "missing": EXIT_NO_BASELINE, "unstable": EXIT_OK, "improved": EXIT_OK, "ok": EXIT_OK}
# environment fields whose differences are shown (git commit and the fingerprint itself are not)
ENV_KEYS = ("python", "os", "cpu_model", "cpu_count", "ram_bytes", "packages", "distributions", "cuda",
            "machine_class", "numerics_fingerprint")
MACHINE_KEYS = ("cpu_model", "cpu_count", "ram_bytes", "machine_class")
_WORDS = {"time": ("slower", "faster"), "throughput": ("higher throughput", "lower throughput"),
          "memory": ("more memory", "less memory"),
          "metric": ("higher", "lower"), "loss": ("higher", "lower"), "count": ("higher", "lower")}


@dataclass(frozen=True)
class MeasurementVerdict:
    name: str
    unit: str
    kind: str
    higher_is_better: bool
    baseline: float | None  # baseline median (speed-normalised to this run's machine if the policy says so)
    current: float | None  # current median
    change_pct: float | None  # 100 * (current - baseline) / baseline
    ci_low_pct: float | None  # confidence interval of the change, percent
    ci_high_pct: float | None
    p_value: float | None
    confidence: float | None  # two-sided level of the CI; each direction is tested one-sided at (1 - it) / 2
    threshold_pct: float | None  # practical threshold applied
    min_detectable_pct: float | None  # smallest change in the worse direction this data flags (80% power)
    verdict: str  # one of VERDICTS
    reason: str  # one human sentence
    against: str = "baseline"  # "baseline" (the stored file) or "reference" (re-run in this session)
    cause: str = ""  # what moved it, when the code x environment arms could tell (harness.judge.attribution)
    comparand_low: float | None = None  # smallest and largest sample of what it was judged against
    comparand_high: float | None = None


@dataclass(frozen=True)
class Verdict:
    overall: str  # worst of the per-measurement verdicts (SEVERITY order); "failed" if the run failed
    exit_code: int  # 0 ok/improved/unstable, 1 regressed, 3 no comparable baseline, 4 failed run (errors.py)
    run_id: str
    profile: str
    baseline_path: str | None
    baseline_provenance: dict  # date, commit, env fingerprint, command, runs
    environment_diff: list  # [(key, baseline_value, current_value)]
    workload_match: bool
    measurements: tuple[MeasurementVerdict, ...]  # regressions first
    notes: tuple[str, ...] = ()  # run-level remarks: workload diff, injected faults, failure
    reference_provenance: dict = field(default_factory=dict)  # commit, runs, date of the in-session reference

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["environment_diff"] = [list(t) for t in self.environment_diff]
        return {"format_version": FORMAT_VERSION, "kind": KIND, **d}

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """Rebuild a verdict written by ``to_dict`` (a verdict JSON file); other versions are refused."""
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise HarnessError(f"not a t4rec-bench verdict (kind is not {KIND!r})")
        if d.get("format_version") != FORMAT_VERSION:
            raise HarnessError(f"verdict format_version {d.get('format_version')!r} is not {FORMAT_VERSION}; "
                               f"re-run the comparison with this harness")
        body = {k: v for k, v in d.items() if k not in ("format_version", "kind")}
        body["measurements"] = tuple(MeasurementVerdict(**m) for m in body["measurements"])
        body["environment_diff"] = [tuple(t) for t in body["environment_diff"]]
        body["notes"] = tuple(body.get("notes", ()))
        return cls(**body)


@dataclass(frozen=True)
class _Context:
    env_match: bool  # environment fingerprints equal
    same_machine: bool  # cpu model, cores, RAM and machine class equal
    base_speed: tuple[float, ...]  # calibration.speed_s per repetition
    cur_speed: tuple[float, ...]
    seed_spread: dict = field(default_factory=dict)  # measurement name -> values over seeds
    throttled: tuple[str, ...] = ()  # GPU clock throttle reasons seen during the current run
    same_session: bool = False  # the baseline side was measured in this session (the in-session reference)
    paired: bool = False  # ... alternating with the current runs: sample i of each side form a pair
    horizon: int | None = None  # paired and sequential: the most pairs (harness/judge/sequential.py); None: fixed size
    sd_confidence: float | None = None  # sequential: confidence of the noise's upper bound ([gate] sd_confidence)
    exact_why: str = "exact: deterministic run, same environment and host numerics"
    differs_why: str = "the environment differs"  # why metrics get a tolerance instead of exactness


def worst(verdicts) -> str:
    """The most severe verdict in ``verdicts`` ("ok" for none)."""
    return min(verdicts, key=SEVERITY.index, default="ok")


def compare(run: dict, baseline: dict, policies=None, baseline_path: str | None = None,
            reference: dict | None = None) -> Verdict:
    """Judge ``run`` (a run record) against ``baseline`` (a baseline document, see harness.documents.baseline).

    ``reference``: {"record": run record, "provenance": {...}} of the in-session reference
    (harness.run.reference); its times replace the stored baseline's for the time kinds.
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
    arms = _Arms.of(reference) if ref_rec is not None else None
    if workload_match:
        ctx = _context(run, base_rec, baseline)
        items, family = _compare_all(run, base_rec, ctx, policies, arms)
        extra += family
        extra += _divergence_notes(run, base_rec, arms)
    else:
        items = _all_incomparable(run, base_rec)
    verdict = _verdict(run, baseline, baseline_path, env_diff, workload_match, items, extra)
    if ref_rec is not None:
        verdict = dataclasses.replace(verdict, reference_provenance=dict(reference.get("provenance") or {}))
    return verdict


def no_baseline(run: dict, baseline_path: str | None, why: str) -> Verdict:
    """The verdict when there is nothing to compare with: every measurement ``missing``."""
    items = [_blank(m, "missing", why) for m in run["measurements"]]
    return _verdict(run, None, baseline_path, [], False, items)


def _verdict(run, baseline, baseline_path, env_diff, workload_match, items, extra=()) -> Verdict:
    items = sorted(items, key=lambda v: SEVERITY.index(v.verdict))
    overall = "failed" if run["status"] != "ok" else worst(v.verdict for v in items)
    provenance = {k: v for k, v in ((baseline or {}).get("provenance") or {}).items() if k != "environment"}
    return Verdict(overall=overall, exit_code=EXIT_CODES[overall], run_id=run["run_id"], profile=run["profile"],
                   baseline_path=None if baseline_path is None else str(baseline_path),
                   baseline_provenance=provenance, environment_diff=env_diff, workload_match=workload_match,
                   measurements=tuple(items), notes=(*_notes(run, baseline, workload_match), *extra))


def _env_diff(base_env: dict, cur_env: dict) -> list:
    """Differences in ENV_KEYS; the full distribution set only when both sides record it (older
    records list 19 packages: those are compared then)."""
    keys = [k for k in ENV_KEYS if k not in ("distributions", "numerics_fingerprint") or k in base_env]
    if "distributions" in base_env and "distributions" in cur_env:
        keys.remove("packages")
    pick = lambda e: {k: e.get(k) for k in keys}  # noqa: E731
    return envmod.diff(pick(base_env), pick(cur_env))


def _context(run: dict, base_rec: dict, baseline: dict) -> _Context:
    b_env, c_env = base_rec["environment"], run["environment"]
    spread = (baseline.get("seed_spread") or {}).get("samples", {})
    same_env = b_env.get("fingerprint") == c_env.get("fingerprint")
    same_host = bool(b_env.get("numerics_fingerprint")) and b_env.get("numerics_fingerprint") == c_env.get(
        "numerics_fingerprint")
    return _Context(env_match=same_env and same_host, differs_why=_differs_why(b_env, c_env, same_env),
                    same_machine=all(b_env.get(k) == c_env.get(k) for k in MACHINE_KEYS),
                    base_speed=tuple((base_rec.get("calibration") or {}).get("speed_s", [])),
                    cur_speed=tuple((run.get("calibration") or {}).get("speed_s", [])),
                    seed_spread=spread, throttled=_throttle_reasons(run))


def _throttle_reasons(run: dict) -> tuple[str, ...]:
    """Why the GPU was throttled during the run (record["gpu"], issue #7); empty when it was not."""
    gpu = run.get("gpu") or {}
    if not gpu.get("throttled"):
        return ()
    return tuple(gpu.get("throttle_reasons") or ("unknown reason",))


def _notes(run: dict, baseline: dict | None, workload_match: bool) -> list[str]:
    notes = []
    if run["status"] != "ok" and run.get("failure"):
        f = run["failure"]
        notes.append(f"the run failed in stage {f['stage']!r} ({f['kind']}): {f['message']}")
    if run.get("faults"):
        notes.append(f"injected faults in this run: {_fmt_dict(run['faults'])}")
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


def _blank(m: dict, verdict: str, reason: str, baseline: dict | None = None) -> MeasurementVerdict:
    cur = m if baseline is None or m is not baseline else None
    return MeasurementVerdict(
        name=m["name"], unit=m["unit"], kind=m["kind"], higher_is_better=m["higher_is_better"],
        baseline=baseline["value"] if baseline else None, current=cur["value"] if cur else None,
        change_pct=None, ci_low_pct=None, ci_high_pct=None, p_value=None, confidence=None,
        threshold_pct=None, min_detectable_pct=None, verdict=verdict, reason=reason)


def _all_incomparable(run: dict, base_rec: dict) -> list[MeasurementVerdict]:
    base, cur = by_name(base_rec), by_name(run)
    why = (f"workload differs from the baseline's (hash {base_rec['workload_hash']} vs "
           f"{run['workload_hash']}): record a baseline for this workload")
    out = []
    for name in _names(base, cur):
        m = cur.get(name) or base[name]
        out.append(_blank(m, "incomparable", why, base.get(name)))
    return out


def _names(base: dict, cur: dict) -> list[str]:
    return list(base) + [n for n in cur if n not in base]


TIME_KINDS = ("time", "throughput")  # judged against the in-session reference when there is one
QUALITY_KINDS = ("metric", "loss")  # exactly against the in-session reference in the same environment


@dataclass(frozen=True)
class _Arms:
    """The in-session arms by measurement name (harness.judge.gate): reference, and cross when it ran."""
    ref: dict  # name -> measurement of the reference (baseline code, baseline environment)
    cross: dict  # name -> measurement of the cross arm (baseline code, current environment); {} if none
    paired: bool
    changed: tuple  # (distribution, reference environment's version, current version)
    code_range: str
    ref_record: dict
    cross_record: dict | None
    horizon: int | None  # the sequential gate's most pairs; None: a fixed number of pairs
    sd_confidence: float | None  # the sequential gate's [gate] sd_confidence (set with horizon)

    @classmethod
    def of(cls, reference: dict) -> _Arms:
        rec, cross = reference["record"], reference.get("cross")
        return cls(by_name(rec), by_name(cross) if cross else {},
                   bool((reference.get("provenance") or {}).get("paired")),
                   tuple(tuple(t) for t in reference.get("changed") or ()), reference.get("code_range") or "",
                   rec, cross, (reference.get("sequential") or {}).get("horizon"),
                   (reference.get("sequential") or {}).get("sd_confidence"))


def _compare_all(run: dict, base_rec: dict, ctx: _Context, policies,
                 arms: _Arms | None = None) -> tuple[list[MeasurementVerdict], list]:
    base, cur = by_name(base_rec), by_name(run)
    pairs = [(base.get(n), cur.get(n)) for n in _names(base, cur)]
    chosen = [policies.for_measurement(c["name"], c["kind"]) if b and c else None for b, c in pairs]
    family = [c["name"] for (b, c), p in zip(pairs, chosen) if p is not None and p.in_family]
    alphas = policies.gate.alphas(family)
    out = []
    for (b, c), pol in zip(pairs, chosen):
        if b is None:
            out.append(_blank(c, "missing", "new measurement: the baseline has no value for it; "
                                            "re-record the baseline to gate it"))
        elif c is None:
            out.append(_gone(run, b))
        else:
            pol = at_level(pol, alphas.get(c["name"]))
            in_session = _against_arms(b, c, ctx, pol, arms, run) if arms else None
            out.append(in_session or _with_spread(_judge(b, c, ctx, pol), b))
    return out, [family_note(policies.gate, family)] if family else []


def _with_spread(v: MeasurementVerdict, b: dict) -> MeasurementVerdict:
    return dataclasses.replace(v, comparand_low=min(b["samples"]), comparand_high=max(b["samples"]))


def _against_arms(b: dict, c: dict, ctx: _Context, pol, arms: _Arms, run: dict) -> MeasurementVerdict | None:
    """Times against the reference (with the cause when a cross arm ran); ranking metrics and loss
    exactly against the arm in the current environment; None: judged against the stored baseline."""
    name = c["name"]
    if name not in arms.ref:
        return None
    paired = arms.paired and arms.ref_record.get("repeat") == run.get("repeat")
    same = dataclasses.replace(ctx, same_session=True, same_machine=True, paired=paired, env_match=True,
                               horizon=arms.horizon if paired else None, sd_confidence=arms.sd_confidence,
                               exact_why="exact: the in-session reference, same host and environment")
    if c["kind"] in TIME_KINDS:
        r = arms.ref[name]
        v = _with_spread(_judge(r, c, same, pol), r)
        v = dataclasses.replace(v, against="reference", reason=v.reason + "; vs the in-session reference")
        return _attributed(v, c, pol, arms) if arms.cross and v.verdict in ("regressed", "unstable") else v
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

    other = dataclasses.replace(ctx, env_match=False, differs_why=f"the environment differs ({env_words(arms.changed)})")
    v = _with_spread(_judge(arms.ref[name], c, other, pol), arms.ref[name])
    cause = f"environment: {env_words(arms.changed)}" if v.verdict != "ok" else ""
    return dataclasses.replace(v, against="reference", cause=cause)


def _attributed(v: MeasurementVerdict, c: dict, pol, arms: _Arms) -> MeasurementVerdict:
    """``v`` with the cause of the change: the code (current vs cross) or the environment (cross vs reference)."""
    from harness.judge import attribution

    x, r = arms.cross.get(c["name"]), arms.ref[c["name"]]
    if x is None or len(x["samples"]) != len(c["samples"]) or len(r["samples"]) != len(x["samples"]):
        return v
    alpha, threshold = (1 - pol.confidence) / 2, v.threshold_pct or pol.threshold_pct
    from harness.judge.sequential import log_of_pct

    sequential = (log_of_pct(pol.pair_sd_pct or 0.0), arms.horizon, arms.sd_confidence) if arms.horizon else None
    code = attribution.effect("code", x["samples"], c["samples"], c["higher_is_better"], alpha, threshold, sequential)
    env = attribution.effect("environment", r["samples"], x["samples"], c["higher_is_better"], alpha, threshold,
                             sequential)
    cause = attribution.cause(code, env, arms.code_range, arms.changed)
    return dataclasses.replace(v, cause=cause, reason=f"{v.reason}; cause: {cause}" if cause else v.reason)


def _differs_why(b_env: dict, c_env: dict, same_env: bool) -> str:
    """Why metrics cannot be held to exactness against the stored baseline, in words."""
    if not same_env:
        return "the environment differs"
    if not b_env.get("numerics_fingerprint"):
        return "the baseline records no numerics fingerprint, so its host may compute differently"
    return f"the host's numerics differ ({_numerics_words(b_env.get('numerics') or {}, c_env.get('numerics') or {})})"


def _numerics_words(b: dict, c: dict) -> str:
    """The numerics fields that differ between two hosts, briefly."""
    rows = envmod.diff({k: v for k, v in b.items() if k != "fingerprint"},
                       {k: v for k, v in c.items() if k != "fingerprint"})
    return "; ".join(f"{key} {_brief(x)} -> {_brief(y)}" for key, x, y in rows[:4]) or "fingerprint only"


def _brief(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))[:60] or "none"
    return str(v)


def _divergence_notes(run: dict, base_rec: dict, arms: _Arms | None) -> list[str]:
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
    parts = [f"{gate.primary} (primary) at alpha {_pct(100 * alphas[gate.primary])}"] if gate.primary in alphas else []
    if others:
        parts.append(f"the {len(others)} other gated measurements share {_pct(100 * sum(alphas[n] for n in others))} "
                     f"(Bonferroni, {_pct(100 * alphas[others[0]])} each)")
    return (f"one-sided tests: {', '.join(parts)}; noise alone fails the gate in at most "
            f"{_pct(100 * gate.family_alpha)} of comparisons")


def _gone(run: dict, b: dict) -> MeasurementVerdict:
    if run["status"] != "ok":
        f = run.get("failure") or {}
        return _blank(b, "failed", f"the run failed in stage {f.get('stage')!r} before measuring it", b)
    return _blank(b, "missing", "the run did not produce this measurement (it disappeared)", b)


def _judge(b: dict, c: dict, ctx: _Context, pol) -> MeasurementVerdict:
    rule = {"significance": _significance, "exact-or-seed-spread": _metric, "exact": _exact,
            "report-only": _report_only}[pol.rule]
    return rule(b, c, ctx, pol)


def _make(c: dict, **kw) -> MeasurementVerdict:
    base = dict(name=c["name"], unit=c["unit"], kind=c["kind"], higher_is_better=c["higher_is_better"],
                change_pct=None, ci_low_pct=None, ci_high_pct=None, p_value=None, confidence=None,
                threshold_pct=None, min_detectable_pct=None)
    return MeasurementVerdict(**{**base, **kw})


def _direction(c: dict, change: float) -> tuple[str, str]:
    """(verdict, word) for a real change: regressed/improved and "slower"/"higher"/..."""
    up_word, down_word = _WORDS[c["kind"]]
    better = (change > 0) == c["higher_is_better"]
    return ("improved" if better else "regressed"), (up_word if change > 0 else down_word)


# --- time, throughput, memory ---------------------------------------------------------

@dataclass(frozen=True)
class _Test:
    p_value: float  # one-sided, in the direction of the observed change
    ci_low_pct: float
    ci_high_pct: float
    min_detectable_pct: float | None  # in the worse direction
    method: str


def _significance(b: dict, c: dict, ctx: _Context, pol) -> MeasurementVerdict:
    if ctx.horizon and c["kind"] in TIME_KINDS:
        return _sequential(b, c, ctx.horizon, ctx.sd_confidence, pol)
    base, cur, norm_note = _normalised(b, c, ctx, pol)
    bm, cm = median(base), median(cur)
    paired = stats.paired_log_ratio_test(base, cur) if ctx.paired and bm > 0 else None
    ranked = stats.rank_test(base, cur) if pol.test == "rank" and bm > 0 and not paired else None
    test = paired or ranked or (stats.log_ratio_test(base, cur) if bm > 0 and len(base) >= 2 else None)
    if test is None:
        return _degenerate(c, bm, cm, base, pol)
    change, estimate = stats.change_pct(bm, cm), 100.0 * (test.ratio - 1)
    result = (_rank(test, base, cur, estimate, c["higher_is_better"], pol) if ranked
              else _test(test, estimate, c["higher_is_better"], pol))
    threshold = max(pol.threshold_pct, 100.0 * pol.min_change / abs(bm))
    if not ctx.same_session and pol.cross_session_pct > threshold:
        threshold = pol.cross_session_pct
        norm_note += (f"; the baseline was measured in another session, so the {_pct(threshold)} "
                      f"cross-session threshold applies (an in-session reference avoids it)")
    mde = result.min_detectable_pct
    verdict, reason = _decide(c, estimate, threshold, mde, result, pol)
    if verdict == "regressed" and ctx.throttled:  # a throttled GPU is not a slower pipeline
        verdict, reason = "unstable", f"{reason}; but the GPU was throttled ({', '.join(ctx.throttled)})"
    return _make(c, baseline=bm, current=cm, change_pct=change, ci_low_pct=result.ci_low_pct,
                 ci_high_pct=result.ci_high_pct, p_value=result.p_value, confidence=pol.confidence,
                 threshold_pct=threshold, min_detectable_pct=max(mde, threshold) if mde is not None else None,
                 verdict=verdict, reason=reason + norm_note)


def _sequential(b: dict, c: dict, horizon: int, sd_confidence: float, pol) -> MeasurementVerdict:
    """The sequential gate's look at the pairs so far (harness/judge/sequential.py): regressed or improved
    beyond the threshold, ok when the worse side's bound rules out the policy's max_mde_pct (or the
    threshold), else unstable: undecided after these pairs."""
    from harness.judge import sequential as seq

    bm, cm = median(b["samples"]), median(c["samples"])
    d = seq.log_ratios(b["samples"], c["samples"])
    if not d:
        return _degenerate(c, bm, cm, b["samples"], pol)
    alpha = (1 - pol.confidence) / 2
    s = seq.sequence(d, alpha, seq.log_of_pct(pol.pair_sd_pct or 0.0), horizon, sd_confidence)
    threshold = max(pol.threshold_pct, 100.0 * pol.min_change / abs(bm))
    margin = max(pol.max_mde_pct or threshold, threshold)
    state = seq.decide(s, c["higher_is_better"], seq.log_of_pct(threshold), seq.log_of_pct(margin))
    est, low, high = seq.pct(s.mean), seq.pct(s.low), seq.pct(s.high)
    verdict, word = _direction(c, est)
    where = (f"anytime p={s.p_value:.2g}, alpha {_pct(100 * alpha)}, interval [{low:+.1f}%, {high:+.1f}%] after "
             f"{s.n} pairs, noise sd {_pct(100 * s.sd)}" + (" (the policy's floor)" if s.sd == s.floor else
                                                       f" (upper bound; measured {_pct(100 * (s.sample_sd or 0))})"))
    bound = high if not c["higher_is_better"] else -low
    if state in (seq.REGRESSED, seq.IMPROVED):
        reason = f"{_pct(abs(est))} {word}: beyond the {_pct(threshold)} threshold and significant ({where})"
    elif state == seq.OK:
        verdict, reason = "ok", f"rules out a worsening of {_pct(margin)} or more ({_pct(abs(est))} {word}; {where})"
    else:
        verdict = "unstable"
        reason = (f"undecided: {_pct(abs(est))} {word}; rules out only a worsening beyond {_pct(bound)} "
                  f"(the policy wants {_pct(margin)}; {where})")
    mde = seq.pct(seq.detectable(s.sd, alpha, horizon, horizon, pol.power))
    return _make(c, baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), ci_low_pct=low, ci_high_pct=high,
                 p_value=s.p_value, confidence=pol.confidence, threshold_pct=threshold,
                 min_detectable_pct=max(mde, threshold), verdict=verdict, reason=reason)


def _degenerate(c: dict, bm: float, cm: float, base: list, pol) -> MeasurementVerdict:
    """No ratio test: a single baseline sample (unknown noise), or zero/negative values (no ratio)."""
    if abs(cm - bm) <= pol.min_change:
        return _make(c, baseline=bm, current=cm, verdict="ok",
                     reason=f"changed by {cm - bm:.3g}, within the policy's absolute floor of {pol.min_change:g}")
    why = (f"the baseline has {len(base)} sample, so its noise is unknown; record it with --repeat 5 or more"
           if len(base) < 2 else "a value is zero or negative, so there is no ratio to test")
    return _make(c, baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), verdict="unstable", reason=why)


def _test(test, change: float, higher_is_better: bool, pol) -> _Test:
    """One-sided p in the direction of ``change``, the matching interval and the detectable worsening."""
    alpha = (1 - pol.confidence) / 2
    p = stats.p_value(test, higher=change > 0)
    low, high = stats.ratio_bounds(test, alpha)
    mde = stats.min_detectable_pct(test.sd_log, test.n_baseline, test.n_current, alpha, pol.power,
                                   increase=not higher_is_better, df=test.df)
    method = (f"t noise band of {test.n_baseline} baseline runs" if test.n_current == 1 else
              f"paired t on the log ratios of {test.n_current} pairs of alternating runs" if test.paired else
              f"t on log values, {test.n_current} runs vs {test.n_baseline} baseline runs")
    method += "; change of the geometric means"
    return _Test(p, 100 * (low - 1), 100 * (high - 1), mde, method)


def _rank(test, base: list, cur: list, change: float, higher_is_better: bool, pol) -> _Test:
    """``_test`` for the rank rule: Mann-Whitney U p-value, Hodges-Lehmann bounds, robust MDE."""
    alpha = (1 - pol.confidence) / 2
    p = stats.rank_p_value(base, cur, higher=change > 0)
    low, high = stats.rank_bounds(test, alpha)
    mde = stats.min_detectable_rank_pct(test.sd_log, test.n_baseline, test.n_current, alpha, pol.power,
                                        increase=not higher_is_better)
    method = (f"Mann-Whitney U on log values, {test.n_current} runs vs {test.n_baseline} baseline runs; "
              f"Hodges-Lehmann change")
    return _Test(p, 100 * (low - 1), 100 * (high - 1), mde, method)


def _pct(x: float) -> str:
    return f"{x:.1f}%" if abs(x) >= 0.1 or x == 0 else f"{x:.2g}%"


def _decide(c: dict, change: float, threshold: float, mde: float | None, test: _Test, pol) -> tuple[str, str]:
    """``change``: the test's estimate (ratio of geometric means), so the test, its interval and the
    threshold all judge one figure; the verdict's change_pct column stays the medians' change."""
    alpha = (1 - pol.confidence) / 2
    significant = change != 0 and test.p_value < alpha
    beyond = abs(change) > threshold
    verdict, word = _direction(c, change)
    what = f"{_pct(abs(change))} {word}"
    where = f"one-sided p={test.p_value:.2g}, alpha {_pct(100 * alpha)}, {test.method}"
    if significant and beyond:
        return verdict, f"{what}: beyond the {_pct(threshold)} threshold and significant ({where})"
    detect = f"this data can detect {_pct(mde)} or more" if mde is not None else "the noise is unknown"
    if beyond:
        return "unstable", f"{what}, beyond the {_pct(threshold)} threshold but not significant ({where}); {detect}"
    limit = max(pol.max_mde_pct, threshold) if pol.max_mde_pct is not None else None
    if limit is not None and mde is not None and mde > limit:
        return "unstable", (f"too noisy to decide: the smallest change this data could detect is {_pct(mde)} "
                            f"(the policy wants {_pct(limit)}); add baseline runs or --repeat")
    if significant:
        return "ok", f"{what}, significant but within the {_pct(threshold)} threshold ({where})"
    return "ok", f"within noise ({what}, {where})"


def _normalised(b: dict, c: dict, ctx: _Context, pol) -> tuple[list, list, str]:
    """Samples to compare, speed-normalised to this run's machine when the policy asks for it."""
    base, cur = list(b["samples"]), list(c["samples"])
    wanted = c["kind"] in ("time", "throughput") and (
        pol.normalise == "always" or (pol.normalise == "cross-machine" and not ctx.same_machine))
    if not wanted:
        return base, cur, ""
    if not ctx.base_speed or not ctx.cur_speed:
        return base, cur, "; compared without speed normalisation (a record lacks calibration.speed_s)"
    ref = median(ctx.cur_speed)
    power = 1 if c["kind"] == "time" else -1  # time / speed, throughput * speed
    scale = lambda xs, sp: [x * (ref / s) ** power for x, s in zip(xs, _align(sp, len(xs)))]  # noqa: E731
    note = f"; speed-normalised (calibration: baseline {median(ctx.base_speed):.3g} s, this run {ref:.3g} s)"
    return scale(base, ctx.base_speed), scale(cur, ctx.cur_speed), note


def _align(speeds: tuple, n: int) -> list[float]:
    """One speed per sample: the repetition's own if the counts agree, else the median."""
    return list(speeds) if len(speeds) == n else [median(speeds)] * n


# --- metrics, loss, counts ---------------------------------------------------------

def _metric(b: dict, c: dict, ctx: _Context, pol) -> MeasurementVerdict:
    bm, cm = b["value"], c["value"]
    delta, tol = cm - bm, pol.exact_tolerance
    deterministic = _span(b["samples"]) <= tol and _span(c["samples"]) <= tol
    if ctx.env_match and deterministic:
        tolerance, source, conf = tol, ctx.exact_why, None
    else:
        why = ctx.differs_why if not ctx.env_match else "the run is not deterministic"
        tolerance, source = _metric_tolerance(b, ctx, pol)
        source, conf = f"{why}; tolerance from {source}", pol.confidence
    pct = (lambda x: 100.0 * x / abs(bm)) if bm else (lambda x: None)  # noqa: E731
    common = dict(baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), confidence=conf,
                  threshold_pct=pct(tolerance), min_detectable_pct=pct(tolerance),
                  ci_low_pct=None if conf is None else pct(delta - tolerance),
                  ci_high_pct=None if conf is None else pct(delta + tolerance))
    if abs(delta) <= tolerance:
        return _make(c, **common, verdict="ok", reason=f"within ±{tolerance:.3g} ({source})")
    verdict, word = _direction(c, delta)
    return _make(c, **common, verdict=verdict, reason=f"{abs(delta):.4g} {word}, beyond ±{tolerance:.3g} ({source})")


def _metric_tolerance(b: dict, ctx: _Context, pol) -> tuple[float, str]:
    candidates = []
    spread = ctx.seed_spread.get(b["name"]) or []
    if len(spread) >= 2:
        candidates.append((stats.seed_tolerance(spread, pol.confidence), f"the {len(spread)}-seed spread"))
    if len(b["samples"]) >= 2 and _span(b["samples"]) > pol.exact_tolerance:
        candidates.append((stats.seed_tolerance(b["samples"], pol.confidence),
                           f"the spread of {len(b['samples'])} baseline runs"))
    if candidates:
        tolerance, source = max(candidates)
        return max(tolerance, pol.exact_tolerance), source
    return (max(pol.fallback_tolerance_pct / 100 * abs(b["value"]), pol.exact_tolerance),
            f"the policy's {pol.fallback_tolerance_pct:g}% fallback (no seed spread: "
            f"record the baseline with --seeds 3)")


def _span(samples) -> float:
    return max(samples) - min(samples)


def _exact(b: dict, c: dict, ctx: _Context, pol) -> MeasurementVerdict:
    bm, cm = b["value"], c["value"]
    common = dict(baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), threshold_pct=0.0)
    if bm == cm and _span(b["samples"]) == 0 and _span(c["samples"]) == 0:
        return _make(c, **common, verdict="ok", reason="unchanged")
    what = f"changed from {bm:g} to {cm:g}" if bm != cm else "varies between repetitions"
    return _make(c, **common, verdict="regressed",
                 reason=f"{what}: a count follows from the workload alone, so the computation changed")


def _report_only(b: dict, c: dict, ctx: _Context, pol) -> MeasurementVerdict:
    """Shown with its change, never gated (and outside the Bonferroni family)."""
    bm, cm = b["value"], c["value"]
    change = stats.change_pct(bm, cm)
    what = "" if change is None else f": {change:+.1f}%"
    return _make(c, baseline=bm, current=cm, change_pct=change, verdict="ok",
                 reason=f"not gated (policy {pol.name!r} is report-only){what}")
