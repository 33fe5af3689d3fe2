"""Anytime-valid sequential test of paired log ratios that needs no assumed noise figure: the gate looks
after every pair and stops as soon as it is decided. Pure statistics, no I/O.

The data of one gated measurement after n pairs are d_i = log(current_i / comparand_i), with mean mu.
The test is the scale-invariant t-mixture (Lai 1976; Perez-Ortiz, Lardy, de Heide and Grunwald,
"E-statistics, group invariance and anytime-valid testing", Ann. Statist. 2024). With the right-Haar
prior 1/sigma on the unknown sd under both hypotheses and a N(0, g) mixture over the standardised effect
delta = (mu - mu0) / sigma, the Bayes factor of mu0 after n >= 2 pairs is (Rouder et al. 2009, fixed g)

    B_n(mu0) = (1 + n g)^(-1/2) [(1 + t^2 / v) / (1 + t^2 / ((1 + n g) v))]^(n / 2),   v = n - 1,

t the one-sample t statistic of d - mu0. B_n is the likelihood ratio of the data's scale-free part
(d_2 / |d_1|, ...), so under mu0 it is a nonnegative martingale WHATEVER sigma is, and by Ville's
inequality it ever reaches 1/alpha with probability at most alpha, however many looks are taken. No
floor on the noise is needed for validity: a noisy host gets a wide interval from its own data.

One-sided decisions use the one-sided (half-normal) mixture B+ = 2 E[LR_delta; delta > 0], also a
martingale. For t >= 0 the negative half's likelihood ratio is at most 1 (the noncentral t family has
monotone likelihood ratio, and LR_delta(0) = exp(-n delta^2 / 2)), so B+ >= 2 B_n - 1 there: "2 B_n - 1
reaches 1/alpha with t > 0" has probability at most alpha. Inverting this at every mu0 gives each bound

    mean -/+ t_n s / sqrt(n),   t_n: where 2 B_n = 1 + 1/alpha  (closed form in ``t_critical``),

each holding at one-sided level alpha at every n at once (infinite while n is too small).

g is fixed before the data (``mixture_g``): the value that makes t_n smallest at ``design`` pairs
([gate] design_pairs). It tunes the width, not the validity.

Still assumed: the pairs are independent and their log ratios Gaussian with one sd.
`benchmarks/sequential_fp.py` simulates the rule as coded under Gaussian noise at any scale, t3 tails,
one 3x outlier run and AR(1) drift, and `calibrate` simulates its power at the measured noise
(``simulate``, the same ``t_critical`` and ``decide_arrays`` the gate uses).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import mean, stdev

# What a look decided for one measurement (``decide``).
REGRESSED, IMPROVED, OK, UNDECIDED = "regressed", "improved", "ok", "undecided"
_CODES = (UNDECIDED, REGRESSED, IMPROVED, OK)  # decide_arrays' codes 0..3


@dataclass(frozen=True)
class Sequence:
    """The confidence sequence of one measurement after ``n`` pairs (log scale)."""

    n: int
    mean: float  # mean log ratio current / comparand
    sample_sd: float | None  # sd of the pairs' log ratios (None below 2 pairs)
    alpha: float  # one-sided level of each bound
    radius: float  # half-width of the interval at this n (inf while n is too small)
    design: int  # the pairs the mixture was tuned for

    @property
    def low(self) -> float:
        return self.mean - self.radius

    @property
    def high(self) -> float:
        return self.mean + self.radius

    @property
    def p_value(self) -> float:
        """Anytime-valid one-sided p-value of "no change" in the observed direction: 1 / (2 B_n(0) - 1)."""
        if self.n < 2 or not self.sample_sd:
            return 1.0
        t = self.mean * math.sqrt(self.n) / self.sample_sd
        b = math.exp(log_bayes_factor(self.n, t * t, mixture_g(self.alpha, self.design)))
        return 1.0 if b <= 1 else min(1.0, 1.0 / (2 * b - 1))


@functools.lru_cache(maxsize=256)
def mixture_g(alpha: float, design: int) -> float:
    """g (prior variance of the standardised effect) that makes ``t_critical`` smallest at ``design`` pairs."""
    from scipy.optimize import minimize_scalar

    n = max(int(design), 3)
    def f(lg: float) -> float:
        return min(t_critical(n, math.exp(lg), alpha), 1e9)

    best = minimize_scalar(f, bounds=(-8.0, 8.0), method="bounded")
    return float(math.exp(best.x))


def log_bayes_factor(n: int, t2: float, g: float) -> float:
    """log B_n for the squared t statistic ``t2`` of ``n`` >= 2 values (the two-sided mixture)."""
    v, c = n - 1, 1 + n * g
    return -0.5 * math.log(c) + n / 2 * (math.log1p(t2 / v) - math.log1p(t2 / (c * v)))


@functools.lru_cache(maxsize=4096)
def t_critical(n: int, g: float, alpha: float) -> float:
    """The t at which the one-sided bound at level ``alpha`` sits after ``n`` pairs (inf if none yet)."""
    if n < 2:
        return math.inf
    v, c = n - 1, 1 + n * g
    level = (1 + 1 / alpha) / 2  # 2 B - 1 = 1 / alpha
    log_k = (2 * math.log(level) + math.log(c)) / n  # (1 + x/v) / (1 + x/(c v)) = K
    if log_k >= math.log(c):
        return math.inf
    k = math.exp(log_k)
    return math.sqrt(v * (k - 1) / (1 - k / c))


def radius(n: int, sample_sd: float, alpha: float, design: int) -> float:
    """Half-width of the confidence sequence after ``n`` pairs whose log ratios have sd ``sample_sd``."""
    return t_critical(n, mixture_g(alpha, design), alpha) * sample_sd / math.sqrt(n)


def sequence(diffs, alpha: float, design: int) -> Sequence | None:
    """The confidence sequence of the log ratios ``diffs`` so far; None without a pair."""
    d = [float(x) for x in diffs]
    if not d:
        return None
    s = stdev(d) if len(d) >= 2 else None
    r = radius(len(d), s, alpha, design) if s is not None else math.inf
    if s == 0:  # every pair identical: no scale to measure, and nothing to bound
        r = 0.0 if len(d) >= 3 else math.inf
    return Sequence(len(d), mean(d), s, alpha, r, design)


def log_ratios(comparand, current) -> list[float] | None:
    """log(current_i / comparand_i) per pair; None unless both are positive and of equal length."""
    if len(comparand) != len(current) or min(list(comparand) + list(current), default=0) <= 0:
        return None
    return [math.log(c / b) for b, c in zip(comparand, current, strict=True)]


def decide_arrays(means, radii, higher_is_better: bool, threshold: float, margin: float):
    """``decide`` on numpy arrays of means and radii: codes 0 undecided, 1 regressed, 2 improved, 3 ok.
    The one definition of the rule; ``decide`` and ``simulate`` both call it."""
    import numpy as np

    worse = -1.0 if higher_is_better else 1.0
    est = worse * np.asarray(means, dtype=float)
    r = np.asarray(radii, dtype=float)
    low, high = est - r, est + r
    out = np.zeros(est.shape, dtype=np.int8)
    out[(high < margin)] = 3
    out[(high < 0) & (-est > threshold)] = 2
    out[(low > 0) & (est > threshold)] = 1
    return out


def decide(seq: Sequence, higher_is_better: bool, threshold: float, margin: float) -> str:
    """What this look says (log-scale thresholds).

    regressed: the worse-side bound excludes 0 AND the estimate is beyond ``threshold`` (the practical
    threshold); improved: the same on the better side; ok: the worse-side bound rules out a worsening of
    ``margin`` or more (an equivalence bound) and neither of those holds; undecided: more pairs are needed.
    """
    return _CODES[int(decide_arrays([seq.mean], [seq.radius], higher_is_better, threshold, margin)[0])]


def decide_ratio(ratio: float, low: float, threshold_pct: float, margin_pct: float) -> str:
    """``decide`` for a time's ratio current / comparand whose one-sided lower bound is ``low`` (the nightly's
    stored ratios): the interval is symmetric in log scale."""
    if not (ratio > 0 and low >= 0):
        return UNDECIDED
    mean = math.log(ratio)
    radius = mean - math.log(low) if low > 0 else math.inf
    return _CODES[int(decide_arrays([mean], [radius], False, log_of_pct(threshold_pct), log_of_pct(margin_pct))[0])]


def reachable(seq: Sequence, higher_is_better: bool, threshold: float, margin: float, max_pairs: int) -> bool:
    """Whether more pairs could still decide it: at ``max_pairs``, with the mean and sd as they are now,
    the look would be decided."""
    if seq.sample_sd is None or seq.n >= max_pairs:
        return False
    r = radius(max_pairs, seq.sample_sd, seq.alpha, seq.design)
    return bool(decide_arrays([seq.mean], [r], higher_is_better, threshold, margin)[0] != 0)


@dataclass(frozen=True)
class Rule:
    """The sequential rule of one measurement as the gate applies it: what ``simulate`` runs."""

    alpha: float  # one-sided level of each bound
    threshold: float  # practical threshold (log)
    margin: float  # equivalence bound: "ok" once a worsening this large is ruled out (log)
    min_pairs: int  # first look
    repeat: int  # past this, go on only while ``reachable``
    max_pairs: int  # the cap
    design: int  # the pairs the mixture is tuned for


def simulate(rule: Rule, sd: float, worsening: float, trials: int = 4000, seed: int = 0,
             tail_df: float | None = None, ar: float = 0.0, outlier: float | None = None,
             alternating: bool = False) -> dict:
    """The rule as coded on ``trials`` simulated checks of one measurement whose pairs' log ratios have
    sd ``sd`` and mean ``worsening`` (log; positive is worse). ``tail_df``: Student-t noise of that many
    degrees of freedom (scaled to sd); ``ar``: AR(1) correlation between successive pairs; ``alternating``:
    the noise belongs to the position a side holds (which starts first, which CPU slot it starts on) and
    the sides swap positions every pair (harness/pairing/reference.py ``order``, crossover's offset), so it
    enters pair i's log ratio with sign (-1)^i; ``outlier``: one pair (the second) shifted by this many sd.
    Returns the share regressed, improved, ok and undecided, and the pairs used (median and 90th percentile)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_max = rule.max_pairs
    if tail_df:
        e = rng.standard_t(tail_df, size=(trials, n_max)) / math.sqrt(tail_df / (tail_df - 2))
    else:
        e = rng.standard_normal((trials, n_max))
    if ar:
        for i in range(1, n_max):
            e[:, i] = ar * e[:, i - 1] + math.sqrt(1 - ar * ar) * e[:, i]
    if alternating:
        e *= np.where(np.arange(n_max) % 2 == 0, 1.0, -1.0)
    if outlier is not None and n_max >= 2:
        e[:, 1] += outlier
    d = worsening + sd * e
    s1, s2 = np.cumsum(d, axis=1), np.cumsum(d * d, axis=1)
    g = mixture_g(rule.alpha, rule.design)
    outcome = np.zeros(trials, dtype=np.int8)
    pairs = np.full(trials, n_max)
    live = np.ones(trials, dtype=bool)
    for n in range(max(rule.min_pairs, 2), n_max + 1):
        m = s1[:, n - 1] / n
        sdn = np.sqrt(np.maximum(s2[:, n - 1] - n * m * m, 0.0) / (n - 1))
        code = decide_arrays(m, t_critical(n, g, rule.alpha) * sdn / math.sqrt(n), False, rule.threshold,
                             rule.margin)
        stop = live & (code != 0)
        if n >= rule.repeat and n < n_max:  # past repeat: on only while the cap could decide it
            at_cap = decide_arrays(m, t_critical(n_max, g, rule.alpha) * sdn / math.sqrt(n_max), False,
                                   rule.threshold, rule.margin)
            stop |= live & (code == 0) & (at_cap == 0)
        outcome[stop] = code[stop]
        pairs[stop] = n
        live &= ~stop
    def share(k: int) -> float:
        return float(np.mean(outcome == k))

    return {"regressed": share(1), "improved": share(2), "ok": share(3), "undecided": share(0),
            "pairs_median": float(np.median(pairs)), "pairs_p90": float(np.percentile(pairs, 90))}


def power_point(rule: Rule, sd: float, power: float = 0.8, trials: int = 1000, seed: int = 0) -> float:
    """The smallest worsening (log) the rule flags as regressed in at least ``power`` of simulated checks
    at noise ``sd`` (two significant figures of it), by bisection on ``simulate``; inf if none up to a
    doubling of the pipeline's time."""
    if not sd or sd <= 0:
        return rule.threshold
    return _power_point(rule, float(f"{sd:.2g}"), power, trials, seed)


@functools.lru_cache(maxsize=512)
def _power_point(rule: Rule, sd: float, power: float, trials: int, seed: int) -> float:
    def hit(w: float) -> bool:
        return simulate(rule, sd, w, trials, seed)["regressed"] >= power

    lo, hi = 0.0, max(rule.threshold, 0.01)
    while not hit(hi):
        lo, hi = hi, 2 * hi
        if hi > math.log(2.0):
            return math.inf
    for _ in range(9):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if hit(mid) else (mid, hi)
    return hi


def log_pct(log_change: float) -> float:
    """A log change as a percentage of the comparand."""
    return 100.0 * math.expm1(log_change) if math.isfinite(log_change) else log_change


def log_of_pct(pct_change: float) -> float:
    return math.log1p(pct_change / 100.0)
