"""Pure statistics for comparisons: no I/O, no state, tested on fixed arrays.

Conventions: ``alpha`` is a ONE-sided level (the chance that noise alone pushes a test past
its bound in one given direction); ``confidence`` is a two-sided level; relative figures are
percentages of the baseline; ``None`` means "cannot be computed from this data" (too few
samples, a zero or negative value), never NaN, so results serialise to JSON as they are.
scipy and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import mean, median, stdev

MAD_TO_SIGMA = 1.4826  # MAD * this estimates sigma for normal data


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mad: float  # median absolute deviation from the median (raw, unscaled)
    mean: float
    stdev: float | None  # sample standard deviation (ddof=1); None for one sample
    cv: float | None  # stdev / |mean|; None for one sample or a zero mean
    robust_cv: float | None  # 1.4826 * MAD / |median|; None for a zero median
    min: float
    max: float


@dataclass(frozen=True)
class RatioTest:
    """Student's t on log values: current / baseline as a ratio of geometric means.

    The noise is the pooled standard deviation of the log values of both groups (the same
    machine makes the same noise on both sides; on log scale a slowdown by a factor is a pure
    shift, so the variances stay equal under the alternative too). With one current run this
    is the t prediction interval ("noise band") of the baseline.
    """

    n_baseline: int
    n_current: int
    log_ratio: float  # mean(log current) - mean(log baseline)
    sd_log: float  # pooled standard deviation of the log values (about the CV)
    df: int  # n_baseline + n_current - 2 (paired: n - 1)
    paired: bool = False  # run i of each side made side by side (paired_log_ratio_test)

    @property
    def se(self) -> float:
        return self.sd_log * math.sqrt(1 / self.n_baseline + 1 / self.n_current)

    @property
    def ratio(self) -> float:
        return math.exp(self.log_ratio)


@dataclass(frozen=True)
class Rate:
    """An observed proportion with its one-sided 95% Clopper-Pearson upper bound."""

    count: int
    n: int
    rate: float
    upper_95: float


def _floats(samples) -> list[float]:
    out = [float(s) for s in samples]
    if not out:
        raise ValueError("no samples")
    return out


def mad(samples) -> float:
    """Median absolute deviation from the median."""
    xs = _floats(samples)
    m = median(xs)
    return median(abs(x - m) for x in xs)


def robust_sd(samples) -> float:
    """1.4826 * MAD: a standard deviation that one or two outlier runs cannot inflate."""
    return MAD_TO_SIGMA * mad(samples)


def summary(samples) -> Summary:
    xs = _floats(samples)
    m, mu = median(xs), mean(xs)
    sd = stdev(xs) if len(xs) > 1 else None
    dev = mad(xs)
    return Summary(n=len(xs), median=m, mad=dev, mean=mu, stdev=sd,
                   cv=sd / abs(mu) if sd is not None and mu else None,
                   robust_cv=MAD_TO_SIGMA * dev / abs(m) if m else None,
                   min=min(xs), max=max(xs))


def change_pct(baseline: float | None, current: float | None) -> float | None:
    """100 * (current - baseline) / |baseline|; None for a zero or missing baseline or a missing current."""
    if current is None or not baseline:
        return None
    return 100.0 * (current - baseline) / abs(baseline)


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(p, df))


def log_values(samples) -> list[float] | None:
    """Natural logs of the samples; None if any is zero or negative."""
    xs = _floats(samples)
    return [math.log(x) for x in xs] if min(xs) > 0 else None


def log_ratio_test(baseline, current) -> RatioTest | None:
    """The pooled t test of log(current) against log(baseline); None without positive values or any df."""
    lb, lc = log_values(baseline), log_values(current)
    if lb is None or lc is None or len(lb) + len(lc) < 3:
        return None
    df, mb, mc = len(lb) + len(lc) - 2, mean(lb), mean(lc)
    ss = sum((x - mb) ** 2 for x in lb) + sum((x - mc) ** 2 for x in lc)
    return RatioTest(len(lb), len(lc), mc - mb, math.sqrt(ss / df), df)


def paired_log_ratio_test(baseline, current) -> RatioTest | None:
    """Student's paired t on the log ratios log c_i - log b_i of runs made side by side.

    When the two groups ran in pairs in one session (the in-session reference), run i of each side
    shares the machine's state of that moment, so drift cancels within a pair: over 30 alternating
    pairs here the sd of total.wall_s was 9.4% across the session but 5.3% between neighbours. The
    result is a RatioTest with df = n - 1 and sd_log = sd(d) / sqrt(2), so its se (sd_log * sqrt(2 / n))
    is the paired se(d) / sqrt(n). None without positive values, equal
    counts or three pairs. (A signed-rank test cannot serve here: its smallest one-sided p is 2^-n,
    at 12 pairs 0.024%, near the 0.031% each secondary measurement is tested at, so it could flag
    them only when all the pairs agree.)
    """
    lb, lc = log_values(baseline), log_values(current)
    if lb is None or lc is None or len(lb) != len(lc) or len(lb) < 3:
        return None
    d = [c - b for c, b in zip(lc, lb, strict=True)]
    return RatioTest(len(d), len(d), mean(d), stdev(d) / math.sqrt(2), len(d) - 1, paired=True)


def p_value(test: RatioTest, higher: bool) -> float:
    """One-sided p-value that the current values are higher (``higher``) or lower than the baseline's."""
    shift = test.log_ratio if higher else -test.log_ratio
    if test.se == 0:
        return 0.0 if shift > 0 else 1.0
    from scipy import stats

    return float(stats.t.sf(shift / test.se, test.df))


def ratio_bounds(test: RatioTest, alpha: float) -> tuple[float, float]:
    """(low, high) bounds of the ratio, each one-sided at ``alpha`` (a two-sided 1 - 2 alpha interval).

    The one-sided test at ``alpha`` flags "higher" exactly when low > 1, "lower" when high < 1.
    """
    half = t_quantile(1 - alpha, test.df) * test.se
    return math.exp(test.log_ratio - half), math.exp(test.log_ratio + half)


def min_detectable_pct(sd_log: float, n_baseline: int, n_current: int, alpha: float, power: float = 0.8,
                       increase: bool = True, df: int | None = None) -> float | None:
    """Smallest relative change the one-sided pooled log t test detects with ``power``.

    k = (t(1 - alpha, df) + t(power, df)) * sd_log * sqrt(1/n_baseline + 1/n_current),
    df = n_baseline + n_current - 2 (the usual shift approximation; the exact noncentral-t
    figure is within 0.1 point here). Returned as 100 * (e^k - 1) for an increase,
    100 * (1 - e^-k) for a decrease. None without degrees of freedom.
    """
    df = n_baseline + n_current - 2 if df is None else df  # paired: n - 1
    if df < 1:
        return None
    k = (t_quantile(1 - alpha, df) + t_quantile(power, df)) * sd_log * math.sqrt(1 / n_baseline + 1 / n_current)
    return 100.0 * (math.exp(k) - 1 if increase else 1 - math.exp(-k))


def smallest_design(sd_log: float, alpha: float, limit_pct: float, power: float = 0.8,
                    current_sizes=range(1, 11), baseline_sizes=(10, 15, 20, 25, 30, 35, 40)
                    ) -> tuple[int, int, float] | None:
    """(n_current, n_baseline, MDE) with the fewest current runs, then the fewest baseline runs,
    whose minimum detectable increase is at most ``limit_pct``; None if no size in range does."""
    for n_c in current_sizes:
        for n_b in baseline_sizes:
            mde = min_detectable_pct(sd_log, n_b, n_c, alpha, power)
            if mde is not None and mde <= limit_pct:
                return n_c, n_b, mde
    return None


def seed_tolerance(spread, confidence: float = 0.99) -> float | None:
    """Absolute tolerance for one new value given values over several seeds: the half-width of
    the two-sided t prediction interval, t(1/2 + confidence/2, n-1) * s * sqrt(1 + 1/n)."""
    xs = _floats(spread)
    if len(xs) < 2:
        return None
    return t_quantile(0.5 + confidence / 2, len(xs) - 1) * stdev(xs) * math.sqrt(1 + 1 / len(xs))


def false_positive_rate(flags) -> Rate:
    """Share of comparisons flagged, with a 95% upper bound (0 of 20 is still "at most 14%")."""
    from scipy import stats

    flags = [bool(f) for f in flags]
    n, k = len(flags), sum(flags)
    if n == 0:
        raise ValueError("no comparisons")
    upper = 1.0 if k == n else float(stats.beta.ppf(0.95, k + 1, n - k))
    return Rate(count=k, n=n, rate=k / n, upper_95=upper)


def aa_splits(k: int, baseline_size: int, current_size: int, comparisons: int, seed: int = 0,
              ordered: bool = False) -> tuple[str, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """A/A comparisons over ``k`` runs: (how, [(current runs, baseline runs)]) as index tuples.

    Random (default): each comparison takes ``current_size`` runs as "current" and
    ``baseline_size`` other runs as the baseline, from a seeded random permutation. If the
    runs suffice for ``comparisons`` comparisons with no run used twice, the splits are
    "disjoint" (independent comparisons); otherwise each comparison draws its own
    permutation ("resampled": runs recur across comparisons, so they are not independent).
    ``ordered``: runs 0..k-1 in time order; a baseline of consecutive runs and the
    ``current_size`` runs right after it, at every start (up to ``comparisons``), as a check
    made after recording a baseline: drift of the machine between the two shows here.
    """
    import numpy as np

    need = baseline_size + current_size
    if current_size < 1 or baseline_size < 1 or need > k:
        raise ValueError(f"{k} runs cannot hold a baseline of {baseline_size} and a current group of "
                         f"{current_size}: {need} runs needed")
    if ordered:
        return "ordered", [(tuple(range(i + baseline_size, i + need)), tuple(range(i, i + baseline_size)))
                           for i in range(min(k - need + 1, comparisons))]
    rng = np.random.default_rng(seed)
    def cut(p) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(sorted(int(i) for i in p[:current_size])), tuple(sorted(int(i) for i in p[current_size:need]))

    if comparisons * need <= k:
        perm = rng.permutation(k)
        return "disjoint", [cut(perm[i * need:(i + 1) * need]) for i in range(comparisons)]
    return "resampled", [cut(rng.permutation(k)) for _ in range(comparisons)]


def aa_two_pools(k_current: int, k_reference: int, current_size: int, reference_size: int, comparisons: int,
                 seed: int = 0, paired: bool = False) -> tuple[str, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """A/A comparisons between two pools run alternately in one session: (how, [(current, reference)]).

    Each comparison takes ``current_size`` runs of the current pool and ``reference_size`` runs of
    the reference pool. "disjoint" when both pools suffice for ``comparisons`` comparisons with no
    run used twice (independent comparisons), else "resampled" (a seeded draw per comparison).
    ``paired``: run i of each pool ran side by side; a comparison takes the same indices from both.
    """
    import numpy as np

    if not (1 <= current_size <= k_current and 1 <= reference_size <= k_reference):
        raise ValueError(f"pools of {k_current} and {k_reference} runs cannot hold groups of {current_size} "
                         f"and {reference_size}")
    if paired and (k_current != k_reference or current_size != reference_size):
        raise ValueError("paired pools need as many runs on each side, and groups of one size")
    rng = np.random.default_rng(seed)
    if paired:
        how, splits = aa_two_pools(k_current, k_current, current_size, current_size, comparisons, seed)
        return how, [(cur, cur) for cur, _ in splits]
    def pick(p, n: int) -> tuple[int, ...]:
        return tuple(sorted(int(i) for i in p[:n]))

    if comparisons * current_size <= k_current and comparisons * reference_size <= k_reference:
        pc, pr = rng.permutation(k_current), rng.permutation(k_reference)
        return "disjoint", [(pick(pc[i * current_size:], current_size), pick(pr[i * reference_size:], reference_size))
                            for i in range(comparisons)]
    return "resampled", [(pick(rng.permutation(k_current), current_size),
                          pick(rng.permutation(k_reference), reference_size)) for _ in range(comparisons)]


# --- Mann-Whitney U on log values (times and throughputs) --------------------------------------

@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of log(current) against log(baseline), with the Hodges-Lehmann shift.

    Distribution-free: a run slowed 3x by a neighbour counts as one rank, where it would
    inflate a t test's variance (measured here: single runs up to 2.9x the median). The
    shift estimate is the median of all pairwise differences log c - log b (Hodges-Lehmann),
    its bounds the matching order statistics (Bauer 1972) under the same normal approximation
    with continuity correction that scipy's asymptotic p-value uses, so a bound excludes 0
    exactly when the one-sided test rejects at that level.
    """

    n_baseline: int
    n_current: int
    log_ratio: float  # Hodges-Lehmann estimate of the shift of log values
    diffs: tuple[float, ...]  # sorted pairwise differences log c - log b
    sd_log: float  # pooled standard deviation of the log values (for the detectable effect)
    sigma_u: float  # standard deviation of U under the null, ties corrected

    @property
    def ratio(self) -> float:
        return math.exp(self.log_ratio)


def rank_test(baseline, current) -> RankTest | None:
    """The rank test of current against baseline; None without positive values or two runs a side."""
    lb, lc = log_values(baseline), log_values(current)
    if lb is None or lc is None or len(lb) < 2 or len(lc) < 2:
        return None
    diffs = tuple(sorted(c - b for c in lc for b in lb))
    n1, n2 = len(lc), len(lb)
    n = n1 + n2
    mb, mc = mean(lb), mean(lc)
    pooled = math.sqrt((sum((x - mb) ** 2 for x in lb) + sum((x - mc) ** 2 for x in lc)) / (n - 2))
    ties = _tie_term(lb + lc)
    sigma_u = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    return RankTest(n2, n1, median(diffs), diffs, pooled, sigma_u)


def _tie_term(values) -> float:
    from collections import Counter

    return float(sum(t**3 - t for t in Counter(values).values() if t > 1))


def rank_p_value(baseline, current, higher: bool) -> float:
    """One-sided p that current is higher (``higher``) or lower than baseline: scipy's Mann-Whitney
    U on log values, normal approximation with continuity correction."""
    from scipy import stats

    lb, lc = log_values(baseline), log_values(current)
    alternative = "greater" if higher else "less"
    res = stats.mannwhitneyu(lc, lb, alternative=alternative, method="asymptotic", use_continuity=True)
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p


def rank_bounds(test: RankTest, alpha: float) -> tuple[float, float]:
    """(low, high) bounds of the ratio, each one-sided at ``alpha``: order statistics of the pairwise
    differences, whose count above a shift is U. 0 / inf when the groups are too small to reject at
    ``alpha`` at all."""
    from scipy import stats

    n = len(test.diffs)
    c = n / 2 - 0.5 - float(stats.norm.ppf(1 - alpha)) * test.sigma_u
    k = math.ceil(c)  # 1-based rank of the bound among the sorted differences
    if k < 1:
        return 0.0, math.inf
    return math.exp(test.diffs[k - 1]), math.exp(test.diffs[n - k])


def slope_interval(k: float, lx, ss_res: float) -> tuple[float | None, tuple[float, float] | None]:
    """(standard error, 95% interval) of a least-squares slope ``k`` on x values ``lx`` (a numpy array)
    with residual sum of squares ``ss_res``; (None, None) without a degree of freedom (harness/run/sweep.py)."""
    from scipy import stats as st

    dof = len(lx) - 2
    if dof < 1:
        return None, None
    stderr = math.sqrt(ss_res / dof / float(((lx - lx.mean()) ** 2).sum()))
    t = float(st.t.ppf(0.975, dof))
    return stderr, (float(k - t * stderr), float(k + t * stderr))
