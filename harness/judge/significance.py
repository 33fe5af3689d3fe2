"""The "significance" rule (time, throughput, memory) and the figures it rests on.

A change is regressed or improved only if it is significant in that direction (one-sided, at
the measurement's alpha) AND beyond the practical threshold. The test follows the policy and
the design: the paired t on log ratios against the in-session reference's pairs (or its
anytime-valid sequence when the gate looks after every pair, harness/judge/sequential.py),
Mann-Whitney U for ``test = "rank"``, else Student's t on log values.

``threshold_pct``, ``detectable_pct``, ``sequential_rule``, ``normalises`` and ``at_speed`` are the
one definition of the practical threshold, the minimum detectable effect (the sequential rule's is
simulated from the rule itself, ``sequential.power_point``) and the speed normalisation: the calibration
analysis (harness/judge/noise.py, harness/judge/gate_errors.py) reports them from these functions, so it
cannot disagree with the verdicts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from statistics import median

from harness.documents.record_types import Measurement
from harness.judge import rank_power, stats
from harness.judge import sequential as seq
from harness.judge.rules import TIME_KINDS, Context, direction, reason_pct
from harness.judge.sequential import Rule
from harness.judge.verdict import MeasurementVerdict, make


def threshold_pct(pol, median_value: float) -> float:
    """The practical threshold in percent: the policy's threshold_pct, or its absolute min_change
    relative to ``median_value`` when that is larger (threshold_pct alone for a zero median)."""
    if not median_value:
        return pol.threshold_pct
    return max(pol.threshold_pct, 100.0 * pol.min_change / abs(median_value))


def detectable_pct(pol, sd_log: float, n_base: int, n_cur: int, alpha: float, increase: bool = True,
                   paired: bool = False) -> float | None:
    """The smallest change in the worse direction (``increase``: up) the policy's test flags at one-sided
    ``alpha`` with the policy's power, for log-scale noise ``sd_log``: the paired t (``paired``: ``n_cur``
    pairs), the rank test (policy test "rank", two runs a side), else Student's t on log values."""
    if paired:
        return stats.min_detectable_pct(sd_log, n_base, n_cur, alpha, pol.power, increase=increase, df=n_cur - 1)
    if pol.test == "rank" and n_base >= 2 and n_cur >= 2:
        return rank_power.min_detectable_rank_pct(sd_log, n_base, n_cur, alpha, pol.power, increase)
    return stats.min_detectable_pct(sd_log, n_base, n_cur, alpha, pol.power, increase=increase)


def normalises(pol, kind: str, same_machine: bool) -> bool:
    """Whether the policy wants a ``kind`` measurement speed-normalised (machine_speed.speed_s)."""
    return kind in TIME_KINDS and (pol.normalise == "always"
                                   or (pol.normalise == "cross-machine" and not same_machine))


def at_speed(values, speeds, kind: str, ref: float) -> list[float]:
    """``values`` as if measured on a machine whose speed probe took ``ref`` seconds: a time scales
    with the probe's time, a throughput inversely. ``speeds``: one per value, else their median."""
    power = 1 if kind == "time" else -1  # time / speed, throughput * speed
    return [x * (ref / s) ** power for x, s in zip(values, _align(speeds, len(values)), strict=True)]


def _align(speeds, n: int) -> list[float]:
    """One speed per sample: the repetition's own if the counts agree, else the median."""
    return list(speeds) if len(speeds) == n else [median(speeds)] * n


# --- the rule ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Test:
    p_value: float  # one-sided, in the direction of the observed change
    ci_low_pct: float
    ci_high_pct: float
    min_detectable_pct: float | None  # in the worse direction
    method: str


def significance(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    """Time, throughput, memory: significant in its direction AND beyond the practical threshold."""
    if ctx.sequential and c["kind"] in TIME_KINDS:
        return _sequential(b, c, ctx, pol)
    if ctx.looks_from and c["kind"] == "memory":  # judged at every look: the level is spent over the looks
        pol = dataclasses.replace(pol, confidence=1 - 2 * look_alpha((1 - pol.confidence) / 2, len(c["samples"]),
                                                                     ctx.looks_from))
    base, cur, norm_note = _normalised(b, c, ctx, pol)
    bm, cm = median(base), median(cur)
    paired = stats.paired_log_ratio_test(base, cur) if ctx.paired and bm > 0 else None
    ranked = stats.rank_test(base, cur) if pol.test == "rank" and bm > 0 and not paired else None
    test = paired or ranked or (stats.log_ratio_test(base, cur) if bm > 0 and len(base) >= 2 else None)
    if test is None:
        return _degenerate(c, bm, cm, base, pol)
    change, estimate = stats.change_pct(bm, cm), 100.0 * (test.ratio - 1)
    result = (_rank(test, base, cur, estimate, c["higher_is_better"], pol) if ranked
              else _test(test, estimate, c["higher_is_better"], pol, ctx.pair_mode))
    threshold = threshold_pct(pol, bm)
    if not ctx.same_session and pol.cross_session_pct > threshold:
        threshold = pol.cross_session_pct
        norm_note += (f"; the baseline was measured in another session, so the {reason_pct(threshold)} "
                      f"cross-session threshold applies (an in-session reference avoids it)")
    mde = result.min_detectable_pct
    verdict, reason = _decide(c, estimate, threshold, mde, result, pol)
    verdict, reason = _throttled(verdict, reason, ctx)
    return make(c, baseline=bm, current=cm, change_pct=change, ci_low_pct=result.ci_low_pct,
                ci_high_pct=result.ci_high_pct, p_value=result.p_value, confidence=pol.confidence,
                threshold_pct=threshold,
                min_detectable_pct=max(mde, threshold) if mde is not None and math.isfinite(mde) else None,
                verdict=verdict, reason=reason + norm_note)


def look_alpha(alpha: float, n: int, first: int) -> float:
    """The level of a fixed-sample test repeated at every look n = first, first + 1, ...: alpha first /
    (n (n + 1)), which sums to alpha over all the looks (so the family's budget holds)."""
    return alpha * first / (n * (n + 1)) if n >= first else alpha


def _throttled(verdict: str, reason: str, ctx: Context) -> tuple[str, str]:
    """A throttled GPU is not a slower pipeline: a regression then is undecided."""
    if verdict == "regressed" and ctx.throttled:
        return "undecided", f"{reason}; but the GPU was throttled ({', '.join(ctx.throttled)})"
    return verdict, reason


def equivalence_margin_pct(pol, threshold: float) -> float:
    """The worsening whose exclusion makes a measurement ``ok``: the policy's max_mde_pct, never below the
    practical ``threshold`` (percent), which it defaults to."""
    return max(pol.max_mde_pct or threshold, threshold)


def sequential_rule(pol, threshold: float, settings: dict, alpha: float) -> seq.Rule:
    """The sequential rule of a measurement under ``pol`` (``threshold``: its practical threshold in percent;
    ``settings``: the check's sequential state, harness/pairing/gate.py)."""
    margin = equivalence_margin_pct(pol, threshold)
    return seq.Rule(alpha, seq.log_of_pct(threshold), seq.log_of_pct(margin), settings["min_pairs"],
                    settings["repeat"], settings["max_pairs"], settings["design_pairs"])


@dataclass(frozen=True)
class Look:
    """One look of the paired sequential decision at the pairs so far (``paired_look``)."""

    state: str  # sequential.REGRESSED, IMPROVED, OK or UNDECIDED
    seq: seq.Sequence
    rule: Rule
    decidable: bool  # undecided, and more pairs (to the rule's max_pairs) could decide it

    @property
    def change_pct(self) -> float:
        return seq.log_pct(self.seq.mean)


def paired_look(comparand, current, higher_is_better: bool, pol, alpha: float, settings: dict) -> Look | None:
    """THE paired decision (every command's: check, the pytest gate, nightly, bisect-env, calibrate): the
    sequential rule of ``pol`` at one-sided ``alpha`` on pairs (comparand_i, current_i), with the
    direction from the record's own measurement and the policy's practical threshold against the
    comparand's median. None without a pair of positive values."""
    d = seq.log_ratios(list(comparand), list(current))
    if not d:
        return None
    rule = sequential_rule(pol, threshold_pct(pol, median(comparand)), settings, alpha)
    s = seq.sequence(d, alpha, rule.design)
    if s is None:  # sequence() is None only without a pair, and d holds one
        return None
    state = seq.decide(s, higher_is_better, rule.threshold, rule.margin)
    return Look(state, s, rule, state == seq.UNDECIDED and seq.reachable(s, higher_is_better, rule.threshold,
                                                                         rule.margin, rule.max_pairs))


def _sequential(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    """The sequential gate's look at the pairs so far (harness/judge/sequential.py): regressed or improved
    beyond the threshold, ok when the worse side's bound rules out the policy's max_mde_pct (or the
    threshold), else undecided after these pairs."""
    bm, cm = median(b["samples"]), median(c["samples"])
    alpha = (1 - pol.confidence) / 2
    settings = ctx.sequential or {}  # set: significance() takes this path only with sequential settings
    look = paired_look(b["samples"], c["samples"], c["higher_is_better"], pol, alpha, settings)
    if look is None:
        return _degenerate(c, bm, cm, b["samples"], pol)
    s, rule, state = look.seq, look.rule, look.state
    threshold, margin = seq.log_pct(rule.threshold), seq.log_pct(rule.margin)
    est, low, high = seq.log_pct(s.mean), seq.log_pct(s.low), seq.log_pct(s.high)
    verdict, word = direction(c, est)
    sd = f"pair sd {reason_pct(100 * s.sample_sd)}" if s.sample_sd is not None else "one pair"
    where = (f"anytime one-sided p={s.p_value:.2g}, alpha {reason_pct(100 * alpha)}, "
             f"bounds [{low:+.1f}%, {high:+.1f}%] after {s.n} pairs, {sd}")
    bound = high if not c["higher_is_better"] else -low
    if state in (seq.REGRESSED, seq.IMPROVED):
        reason = (f"{reason_pct(abs(est))} {word}: beyond the {reason_pct(threshold)} threshold "
                  f"and significant ({where})")
    elif state == seq.OK:
        verdict, reason = "ok", (f"rules out a worsening of {reason_pct(margin)} or more "
                                 f"({reason_pct(abs(est))} {word}; {where})")
    else:
        verdict = "undecided"
        rules_out = f"rules out only a worsening beyond {reason_pct(bound)}" if bound != float("inf") else \
            "too few pairs to bound it yet"
        reason = f"undecided: {reason_pct(abs(est))} {word}; {rules_out} (ok needs {reason_pct(margin)}; {where})"
    verdict, reason = _throttled(verdict, reason, ctx)
    final = settings.get("final", True)  # the looks before the last skip the (simulated) power
    power = seq.log_pct(seq.power_point(rule, s.sample_sd)) if s.sample_sd and final else None
    if power is not None:
        reason += (f"; at this noise the rule flags a worsening of {reason_pct(power)} in 80% of checks" if power < 1e6
                   else "; at this noise the rule cannot flag any worsening in 80% of checks")
    decidable = look.decidable
    return make(c, baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), ci_low_pct=low, ci_high_pct=high,
                p_value=s.p_value, confidence=1 - 2 * alpha, threshold_pct=threshold,
                min_detectable_pct=power if power is not None and power < 1e6 else None, verdict=verdict,
                reason=reason, decidable=decidable if verdict == "undecided" else None)


def _degenerate(c: Measurement, bm: float, cm: float, base: list, pol) -> MeasurementVerdict:
    """No ratio test: a single baseline sample (unknown noise), or zero/negative values (no ratio)."""
    if abs(cm - bm) <= pol.min_change:
        return make(c, baseline=bm, current=cm, verdict="ok",
                    reason=f"changed by {cm - bm:.3g}, within the policy's absolute floor of {pol.min_change:g}")
    why = (f"the baseline has {len(base)} sample, so its noise is unknown; record it with --repeat 5 or more"
           if len(base) < 2 else "a value is zero or negative, so there is no ratio to test")
    return make(c, baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), verdict="undecided", reason=why)


def _test(test, change: float, higher_is_better: bool, pol, mode: str | None = None) -> _Test:
    """One-sided p in the direction of ``change``, the matching interval and the detectable worsening;
    ``mode``: how paired runs ran (a [gate] mode), named in the method."""
    alpha = (1 - pol.confidence) / 2
    p = stats.p_value(test, higher=change > 0)
    low, high = stats.ratio_bounds(test, alpha)
    mde = detectable_pct(pol, test.sd_log, test.n_baseline, test.n_current, alpha, increase=not higher_is_better,
                         paired=test.paired)
    method = (f"t noise band of {test.n_baseline} baseline runs" if test.n_current == 1 else
              f"paired t on the log ratios of {test.n_current} {mode + ' ' if mode else ''}pairs" if test.paired else
              f"t on log values, {test.n_current} runs vs {test.n_baseline} baseline runs")
    method += "; change of the geometric means"
    return _Test(p, 100 * (low - 1), 100 * (high - 1), mde, method)


def _rank(test, base: list, cur: list, change: float, higher_is_better: bool, pol) -> _Test:
    """``_test`` for the rank rule: Mann-Whitney U p-value, Hodges-Lehmann bounds, robust MDE."""
    alpha = (1 - pol.confidence) / 2
    p = stats.rank_p_value(base, cur, higher=change > 0)
    low, high = stats.rank_bounds(test, alpha)
    mde = detectable_pct(pol, test.sd_log, test.n_baseline, test.n_current, alpha, increase=not higher_is_better)
    method = (f"Mann-Whitney U on log values, {test.n_current} runs vs {test.n_baseline} baseline runs; "
              f"Hodges-Lehmann change")
    return _Test(p, 100 * (low - 1), 100 * (high - 1), mde, method)


def _decide(c: Measurement, change: float, threshold: float, mde: float | None, test: _Test, pol) -> tuple[str, str]:
    """``change``: the test's estimate (ratio of geometric means), so the test, its interval and the
    threshold all judge one figure; the verdict's change_pct column stays the medians' change."""
    alpha = (1 - pol.confidence) / 2
    significant = change != 0 and test.p_value < alpha
    beyond = abs(change) > threshold
    verdict, word = direction(c, change)
    what = f"{reason_pct(abs(change))} {word}"
    where = f"one-sided p={test.p_value:.2g}, alpha {reason_pct(100 * alpha)}, {test.method}"
    if significant and beyond:
        return verdict, f"{what}: beyond the {reason_pct(threshold)} threshold and significant ({where})"
    detect = f"this data can detect {reason_pct(mde)} or more" if mde is not None else "the noise is unknown"
    if mde is not None and math.isinf(mde):  # no power at all: never an ok
        return "undecided", (f"{what}; too few runs to decide: with these counts the test cannot reach alpha "
                             f"{reason_pct(100 * alpha)} even with no overlap ({test.method}); add baseline runs "
                             f"or --repeat")
    if beyond:
        return "undecided", (f"{what}, beyond the {reason_pct(threshold)} threshold but not significant "
                             f"({where}); {detect}")
    limit = max(pol.max_mde_pct, threshold) if pol.max_mde_pct is not None else None
    if limit is not None and mde is not None and mde > limit:
        return "undecided", (f"too noisy to decide: the smallest change this data could detect is {reason_pct(mde)} "
                            f"(the policy wants {reason_pct(limit)}); add baseline runs or --repeat")
    if significant:
        return "ok", f"{what}, significant but within the {reason_pct(threshold)} threshold ({where})"
    return "ok", f"within noise ({what}, {where})"


def _normalised(b: Measurement, c: Measurement, ctx: Context, pol) -> tuple[list, list, str]:
    """Samples to compare, speed-normalised to this run's machine when the policy asks for it."""
    base, cur = list(b["samples"]), list(c["samples"])
    if not normalises(pol, c["kind"], ctx.same_machine):
        return base, cur, ""
    if not ctx.base_speed or not ctx.cur_speed:
        return base, cur, "; compared without speed normalisation (a record lacks machine_speed.speed_s)"
    ref = median(ctx.cur_speed)
    note = f"; speed-normalised (machine speed: baseline {median(ctx.base_speed):.3g} s, this run {ref:.3g} s)"
    return at_speed(base, ctx.base_speed, c["kind"], ref), at_speed(cur, ctx.cur_speed, c["kind"], ref), note
