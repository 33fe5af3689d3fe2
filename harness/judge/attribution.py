"""Which change moved a time: the code, the environment, or both (the code x environment arms).

When both the code and the environment differ from the baseline's, the gate runs three arms
side by side (harness/pairing/reference.py): the reference (baseline code, baseline environment), the
cross arm (baseline code, current environment) and the current code (current code, current
environment). The code's effect is current against cross, the environment's is cross against
reference (when a round ran as two pairs, each within its pairs: ``beside``); each is the paired t on
the log ratios of the rounds (the sequential gate's confidence sequence when the check looked after
every round, harness/judge/sequential.py), tested one-sided in the worse direction at the level the
measurement was judged at. Pure functions: records in, words out.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.judge import stats


@dataclass(frozen=True)
class Effect:
    what: str  # "code" or "environment"
    change_pct: float  # ratio of geometric means, in percent
    p_value: float  # one-sided, in the worse direction
    clear: bool  # significant at alpha and beyond the threshold, in the worse direction
    worse_pct: float  # change_pct signed so that positive is worse


def effect(what: str, before, after, higher_is_better: bool, alpha: float, threshold_pct: float,
           sequential: int | None = None) -> Effect | None:
    """The paired effect of going from ``before`` to ``after`` (samples of one round each), or None.
    ``sequential``: the sequential gate's design_pairs: judge with its test (harness/judge/sequential.py)."""
    if sequential is not None:
        return _sequential_effect(what, before, after, higher_is_better, alpha, threshold_pct, sequential)
    test = stats.paired_log_ratio_test(list(before), list(after))
    if test is None:
        return None
    change = 100.0 * (test.ratio - 1)
    p = stats.p_value(test, higher=not higher_is_better)
    worse = (change < 0) if higher_is_better else (change > 0)
    return Effect(what, change, p, worse and p < alpha and abs(change) > threshold_pct,
                  -change if higher_is_better else change)


def beside(cross, reference, partner) -> tuple[list, list]:
    """(the code's "before", the environment's "before"): the cross arm's and the reference's samples when
    the three sides of a round ran at once (or one after the other). When the round ran as two pairs
    (harness/pairing/together.py), the cross arm ran beside ``partner`` (a second run of the reference)
    and the current code beside ``reference``: the environment's effect is then cross against partner,
    and the code's is current against the cross arm carried into the current code's pair
    (cross x reference / partner), so that each effect is a ratio of runs that ran at once."""
    if not partner or len(partner) != len(cross) or not all(partner):
        return list(cross), list(reference)
    return [x * r / p for x, r, p in zip(cross, reference, partner, strict=True)], list(partner)


def _sequential_effect(what, before, after, higher_is_better, alpha, threshold_pct, design):
    from harness.judge import sequential as seq

    d = seq.log_ratios(list(before), list(after))
    if not d or len(d) < 2:
        return None
    s = seq.sequence(d, alpha, design)
    change = seq.log_pct(s.mean)
    worse_pct = -change if higher_is_better else change
    state = seq.decide(s, higher_is_better, seq.log_of_pct(threshold_pct), float("inf"))
    return Effect(what, change, s.p_value, state == seq.REGRESSED, worse_pct)


def env_words(changed) -> str:
    """``transformers4rec 23.12.0 -> 23.12.0.post1, torch 2.1 -> 2.2`` (first five, then a count)."""
    items = [f"{name} {a or '(none)'} -> {b or '(none)'}" for name, a, b in changed]
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return ", ".join(items[:5]) + more or "(no distribution changed)"


def cause(code: Effect | None, env: Effect | None, code_range: str, changed) -> str:
    """One phrase naming the cause: "environment: transformers4rec 23.12.0 -> 23.12.0.post1 (+31%)",
    "code: 657a6bf..4c1d2e0 (+12%)", "code and environment: ...", or the likelier one when neither is clear."""
    code_txt = f"code: {code_range}"
    env_txt = f"environment: {env_words(changed)}"
    if code is None or env is None:
        return ""
    def size(e: Effect) -> str:
        return f"{e.change_pct:+.1f}%, one-sided p {e.p_value:.2g}"

    if code.clear and env.clear:
        return f"code and environment: {code_range} ({size(code)}); {env_words(changed)} ({size(env)})"
    if env.clear:
        return f"{env_txt} ({size(env)}; the code's share {code.change_pct:+.1f}%)"
    if code.clear:
        return f"{code_txt} ({size(code)}; the environment's share {env.change_pct:+.1f}%)"
    likelier = max((code, env), key=lambda e: e.worse_pct)
    text = code_txt if likelier is code else env_txt
    return f"probably {text} ({size(likelier)}; neither effect is significant on its own)"
