"""Pure statistics for comparisons: no I/O, no state, tested on fixed arrays.

Conventions: ``confidence`` is two-sided (0.99 means alpha = 0.01); relative figures are
percentages of the baseline's median; ``None`` means "cannot be computed from this data"
(too few samples, a zero baseline), never NaN, so results serialise to JSON as they are.
scipy is imported inside the functions that need it.
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
class Band:
    """Where a new value is expected to fall if nothing changed (a t prediction interval)."""

    center: float  # baseline mean
    low: float
    high: float
    half_width: float


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


def summary(samples) -> Summary:
    xs = _floats(samples)
    m, mu = median(xs), mean(xs)
    sd = stdev(xs) if len(xs) > 1 else None
    dev = mad(xs)
    return Summary(n=len(xs), median=m, mad=dev, mean=mu, stdev=sd,
                   cv=sd / abs(mu) if sd is not None and mu else None,
                   robust_cv=MAD_TO_SIGMA * dev / abs(m) if m else None,
                   min=min(xs), max=max(xs))


def change_pct(baseline: float, current: float) -> float | None:
    """100 * (current - baseline) / |baseline|; None for a zero baseline."""
    return 100.0 * (current - baseline) / abs(baseline) if baseline else None


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(p, df))


def mann_whitney_p(baseline, current) -> float:
    """Two-sided Mann-Whitney U p-value (scipy; exact for small samples without ties)."""
    from scipy import stats

    a, b = _floats(baseline), _floats(current)
    if len(set(a) | set(b)) == 1:
        return 1.0  # every value equal: no evidence of any difference
    return float(stats.mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)


def min_mann_whitney_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value Mann-Whitney can give for these sizes: 2 / C(n1+n2, n1).

    If it is above alpha, the test cannot flag anything and another test must be used.
    """
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def noise_band(baseline, confidence: float = 0.99, n_current: int = 1) -> Band | None:
    """t prediction interval for the mean of ``n_current`` new values, from baseline samples.

    half_width = t(1 - alpha/2, n-1) * s * sqrt(1/n + 1/n_current). Needs two or more samples.
    """
    xs = _floats(baseline)
    if len(xs) < 2:
        return None
    center, sd = mean(xs), stdev(xs)
    half = t_quantile(0.5 + confidence / 2, len(xs) - 1) * sd * math.sqrt(1 / len(xs) + 1 / n_current)
    return Band(center, center - half, center + half, half)


def band_p_value(baseline, value: float, n_current: int = 1) -> float | None:
    """Two-sided p-value of ``value`` (a mean of n_current runs) under the baseline's noise band."""
    xs = _floats(baseline)
    if len(xs) < 2:
        return None
    center, sd = mean(xs), stdev(xs)
    if sd == 0:
        return 1.0 if value == center else 0.0
    from scipy import stats

    t = abs(value - center) / (sd * math.sqrt(1 / len(xs) + 1 / n_current))
    return float(2 * stats.t.sf(t, len(xs) - 1))


def bootstrap_ratio_ci(baseline, current, confidence: float = 0.99, n_resamples: int = 4000,
                       seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap CI of median(current) / median(baseline); seeded, so repeatable.

    None when a resampled baseline median can be zero.
    """
    import numpy as np

    a, b = np.asarray(_floats(baseline)), np.asarray(_floats(current))
    rng = np.random.default_rng(seed)
    med_a = np.median(rng.choice(a, size=(n_resamples, a.size)), axis=1)
    med_b = np.median(rng.choice(b, size=(n_resamples, b.size)), axis=1)
    if np.any(med_a == 0):
        return None
    ratios = med_b / med_a
    alpha = 1 - confidence
    return float(np.quantile(ratios, alpha / 2)), float(np.quantile(ratios, 1 - alpha / 2))


def min_detectable_pct(baseline, n_current: int = 1, confidence: float = 0.99,
                       power: float = 0.8) -> float | None:
    """Smallest relative change (percent of the baseline median) detected with ``power``.

    The two-sample formula (t(1-alpha/2) + t(power)) * s * sqrt(1/n + 1/n_current) with
    df = n - 1 (the baseline alone estimates the noise, as in the noise band). For
    Mann-Whitney it is a close approximation (its efficiency is 95% of the t-test's on normal data).
    """
    xs = _floats(baseline)
    m = median(xs)
    if len(xs) < 2 or m == 0:
        return None
    df = len(xs) - 1
    factor = t_quantile(0.5 + confidence / 2, df) + t_quantile(power, df)
    return 100.0 * factor * stdev(xs) * math.sqrt(1 / len(xs) + 1 / n_current) / abs(m)


def seed_tolerance(spread, confidence: float = 0.99) -> float | None:
    """Absolute tolerance for one new value given values over several seeds (a prediction half-width)."""
    band = noise_band(spread, confidence, n_current=1)
    return band.half_width if band else None


def false_positive_rate(flags) -> Rate:
    """Share of comparisons flagged, with a 95% upper bound (0 of 20 is still "at most 14%")."""
    from scipy import stats

    flags = [bool(f) for f in flags]
    n, k = len(flags), sum(flags)
    if n == 0:
        raise ValueError("no comparisons")
    upper = 1.0 if k == n else float(stats.beta.ppf(0.95, k + 1, n - k))
    return Rate(count=k, n=n, rate=k / n, upper_95=upper)


def aa_splits(k: int, baseline_size: int | None = None,
              current_size: int = 1) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """A/A comparisons over ``k`` runs: (current runs, baseline runs) index tuples, cyclic.

    Comparison i takes runs i .. i+current_size-1 as "current" and the next ``baseline_size``
    runs as the baseline, so each run is "current" ``current_size`` times and every baseline
    has the size the real gate uses. ``baseline_size=None``: all other runs.
    """
    size = k - current_size if baseline_size is None else baseline_size
    if current_size < 1 or not 1 <= size <= k - current_size:
        raise ValueError(f"{k} runs cannot give a baseline of {baseline_size} and a current group of "
                         f"{current_size}: need at least baseline + current runs")
    return [(tuple((i + j) % k for j in range(current_size)),
             tuple((i + current_size + j) % k for j in range(size))) for i in range(k)]
