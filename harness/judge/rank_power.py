"""The rank rule's power, from the rule as coded: how large a shift ``stats.rank_p_value`` flags with a
given power at given group sizes and one-sided alpha, found by simulation (docs/measurements.md, "The
rank rule's power"). numpy and scipy are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import math

from harness.judge.stats import rank_p_value

RANK_POWER_DRAWS = 4000  # simulated comparisons per shift: the power is then within about 0.6 points at 80%
RANK_POWER_SEED = 2026  # fixed, so a verdict's detectable change is the same on every host


def min_detectable_rank_pct(sd_log: float, n_baseline: int, n_current: int, alpha: float, power: float = 0.8,
                            increase: bool = True) -> float | None:
    """Smallest relative change the one-sided rank rule as coded (``rank_p_value`` below ``alpha``) flags
    with ``power``, for normal noise of sd ``sd_log`` on the log values: ``rank_detectable_shift`` (in
    units of sd_log) times sd_log. ``math.inf`` when these group sizes cannot reach ``alpha`` at all (no
    overlap still leaves p at or above it), so nothing is detectable; None when a group has fewer than
    two runs. Heavy tails inflate sd_log, so where the rank test gains most this figure errs large (safe).
    """
    if n_baseline < 2 or n_current < 2:
        return None
    k = rank_detectable_shift(n_baseline, n_current, alpha, power)
    if math.isinf(k):
        return math.inf
    k *= sd_log
    return 100.0 * (math.exp(k) - 1 if increase else 1 - math.exp(-k))


def rank_smallest_p(n_baseline: int, n_current: int) -> float:
    """The smallest one-sided p ``rank_p_value`` can give with these group sizes: no overlap at all."""
    return rank_p_value([math.exp(i) for i in range(n_baseline)],
                        [math.exp(n_baseline + i) for i in range(n_current)], higher=True)


@functools.lru_cache(maxsize=512)
def rank_detectable_shift(n_baseline: int, n_current: int, alpha: float, power: float = 0.8) -> float:
    """The shift of the log values, in units of their sd, at which the rank rule as coded (scipy's
    asymptotic Mann-Whitney U with continuity correction, one-sided p below ``alpha``) flags ``power``
    of ``RANK_POWER_DRAWS`` simulated comparisons of normal samples (fixed seed, the same draws at every
    shift, so the power rises with the shift and a bisection finds it to 0.1% of sd). ``math.inf`` when
    the sizes cannot reach ``alpha`` at all (``rank_smallest_p``)."""
    import numpy as np
    from scipy import stats as st

    if rank_smallest_p(n_baseline, n_current) >= alpha:
        return math.inf
    rng = np.random.default_rng(RANK_POWER_SEED)
    base = rng.standard_normal((RANK_POWER_DRAWS, n_baseline))
    cur = rng.standard_normal((RANK_POWER_DRAWS, n_current))

    def flagged(shift: float) -> float:
        p = st.mannwhitneyu(cur + shift, base, axis=1, alternative="greater", method="asymptotic",
                            use_continuity=True).pvalue
        return float(np.mean(p < alpha))

    low, high = 0.0, 1.0
    while flagged(high) < power:
        low, high = high, 2 * high
        if high > 1e3:  # the rule never gets there: as good as undetectable
            return math.inf
    while high - low > 1e-3:
        mid = (low + high) / 2
        low, high = (low, mid) if flagged(mid) >= power else (mid, high)
    return high
