"""Anytime-valid sequential test of paired log ratios: the gate looks after every pair and stops
as soon as it is decided. Pure statistics, no I/O.

The data of one gated measurement after n pairs are d_i = log(current_i / comparand_i). The test
is Robbins' normal-mixture confidence sequence for their mean mu: with sigma the sd of one d_i
and a N(0, (tau sigma)^2) mixture over mu, the likelihood ratio of mu against mu0

    L_n(mu0) = (1 + n tau^2)^(-1/2) exp(tau^2 (S_n - n mu0)^2 / (2 sigma^2 (1 + n tau^2)))

is a nonnegative martingale under mu0, so by Ville's inequality it ever reaches 1/alpha with
probability at most alpha, however many looks are taken and whenever the looks stop. The set
{mu0 : L_n(mu0) < 1/alpha} is therefore an interval that holds mu at every n at once:

    mean_n +- (sigma / n) sqrt((1 + n tau^2) / tau^2 * (2 log(1/alpha) + log(1 + n tau^2))).

tau is fixed before the data (``mixture_scale``): the value that makes the interval narrowest at
the maximum number of pairs. sigma is unknown. L_n falls as sigma grows, so the bound holds
whenever the sigma used is at least the true one; the test uses max(floor, upper), where upper
is the one-sided ``sd_confidence`` upper confidence bound of sigma from the pairs so far
(s_n sqrt((n - 1) / chi2_{1 - sd_confidence, n - 1}): sd_upper_factor)
and ``floor`` the least pair noise of the machine class (policies.toml, ``pair_sd_pct``, from
`t4rec-bench calibrate`). A host far noisier than the floor is then caught by the data itself.
`benchmarks/sequential_fp.py` simulates the rule on Gaussian pairs of known noise, and
`calibrate` checks it, looks and measurements together, by resampling recorded A/A pairs and by
real A/A checks (README, "The sequential gate").
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import mean, stdev

# What a look decided for one measurement (``decide``).
REGRESSED, IMPROVED, OK, UNDECIDED = "regressed", "improved", "ok", "undecided"


@dataclass(frozen=True)
class Sequence:
    """The confidence sequence of one measurement after ``n`` pairs (log scale)."""

    n: int
    mean: float  # mean log ratio current / comparand
    sd: float  # the sigma used: max(floor, the sample sd's upper confidence bound)
    sample_sd: float | None  # sd of the pairs' log ratios (None below 2 pairs)
    floor: float  # the policy's pair noise floor (log scale)
    alpha: float  # one-sided level of each direction's bound
    radius: float  # half-width of the interval at this n
    horizon: int  # the maximum number of pairs tau was chosen for

    @property
    def low(self) -> float:
        return self.mean - self.radius

    @property
    def high(self) -> float:
        return self.mean + self.radius

    @property
    def p_value(self) -> float:
        """Anytime-valid p-value of "no change" at this look: 1 / L_n(0), at most 1."""
        return min(1.0, math.exp(-log_evidence(self.n, self.mean * self.n, self.sd, self.horizon, self.alpha)))


@functools.lru_cache(maxsize=256)
def mixture_scale(alpha: float, horizon: int) -> float:
    """tau^2 that minimises the interval's half-width at n = ``horizon`` (for level ``alpha``)."""
    from scipy.optimize import minimize_scalar

    two_l = 2 * math.log(1 / alpha)
    width = lambda x: (1 + x) / x * (two_l + math.log1p(x))  # noqa: E731 - x = horizon * tau^2
    best = minimize_scalar(width, bounds=(1e-3, 1e4), method="bounded")
    return float(best.x) / horizon


def _level(alpha: float) -> float:
    """The mixture's crossing level for one direction tested at ``alpha``: the two-sided mixture at
    alpha itself. It bounds both directions together by alpha, so each by alpha (conservative: by
    symmetry nearly alpha / 2 each; a one-sided mixture would be about 7% narrower)."""
    return alpha


def radius(n: int, sd: float, alpha: float, horizon: int) -> float:
    """Half-width of the confidence sequence after ``n`` pairs of noise ``sd``."""
    tau2 = mixture_scale(_level(alpha), horizon)
    a = 1 + n * tau2
    return sd / n * math.sqrt(a / tau2 * (2 * math.log(1 / _level(alpha)) + math.log(a)))


def log_evidence(n: int, total: float, sd: float, horizon: int, alpha: float) -> float:
    """log L_n(0): the evidence against "no change" from the sum ``total`` of ``n`` log ratios."""
    if sd <= 0:
        return math.inf if total else 0.0
    tau2 = mixture_scale(_level(alpha), horizon)
    a = 1 + n * tau2
    return -0.5 * math.log(a) + tau2 * total ** 2 / (2 * sd ** 2 * a)


@functools.lru_cache(maxsize=1024)
def sd_upper_factor(n: int, confidence: float) -> float:
    """s_n times this is the one-sided ``confidence`` upper bound of sigma from ``n`` values (chi-square)."""
    from scipy.stats import chi2

    return math.sqrt((n - 1) / float(chi2.ppf(1 - confidence, n - 1)))


def sequence(diffs, alpha: float, floor: float, horizon: int, sd_confidence: float) -> Sequence | None:
    """The confidence sequence of the log ratios ``diffs`` so far; None without a pair."""
    d = [float(x) for x in diffs]
    if not d:
        return None
    s = stdev(d) if len(d) >= 2 else None
    sd = max(floor, (s or 0.0) * (sd_upper_factor(len(d), sd_confidence) if s else 1.0))
    return Sequence(len(d), mean(d), sd, s, floor, alpha, radius(len(d), sd, alpha, max(horizon, len(d))),
                    max(horizon, len(d)))


def log_ratios(comparand, current) -> list[float] | None:
    """log(current_i / comparand_i) per pair; None unless both are positive and of equal length."""
    if len(comparand) != len(current) or min(list(comparand) + list(current), default=0) <= 0:
        return None
    return [math.log(c / b) for b, c in zip(comparand, current)]


def decide(seq: Sequence, higher_is_better: bool, threshold: float, margin: float) -> str:
    """What this look says (log scale thresholds).

    regressed: the interval excludes 0 on the worse side AND the estimate is beyond ``threshold``
    (the practical threshold); improved: the same on the better side; ok: the interval rules out a
    worsening of ``margin`` or more (an equivalence bound) and nothing is beyond the threshold;
    undecided: more pairs are needed.
    """
    worse = -1.0 if higher_is_better else 1.0
    est, low, high = worse * seq.mean, *sorted((worse * seq.low, worse * seq.high))
    if low > 0 and est > threshold:
        return REGRESSED
    if high < 0 and -est > threshold:
        return IMPROVED
    if high < margin:
        return OK
    return UNDECIDED


def detectable(sd: float, alpha: float, n: int, horizon: int, power: float = 0.8) -> float:
    """Smallest true log change whose interval excludes 0 at pair ``n`` with probability ``power``
    (sigma known): radius + z(power) sd / sqrt(n)."""
    from scipy.stats import norm

    return radius(n, sd, alpha, horizon) + float(norm.ppf(power)) * sd / math.sqrt(n)


def pct(log_change: float) -> float:
    """A log change as a percentage of the comparand."""
    return 100.0 * math.expm1(log_change)


def log_of_pct(pct_change: float) -> float:
    return math.log1p(pct_change / 100.0)
