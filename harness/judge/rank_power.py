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
    return _p_at_u(n_baseline, n_current, n_baseline * n_current)


def _p_at_u(n_baseline: int, n_current: int, u: int) -> float:
    """``rank_p_value`` (current higher) of samples without ties whose U is ``u``: the current values
    placed among the baseline's 0, 1, ..., n_baseline - 1 so that ``u`` pairs have the current above."""
    below = [min(n_baseline, max(0, u - n_baseline * i)) for i in range(n_current)]  # sums to u
    return rank_p_value([math.exp(j) for j in range(n_baseline)],
                        [math.exp(b - 0.5 + 0.4 * i / n_current) for i, b in enumerate(below)], higher=True)


def rank_critical_u(n_baseline: int, n_current: int, alpha: float) -> int | None:
    """The smallest U at which ``rank_p_value`` falls below ``alpha`` (its p falls as U rises, so the rule
    flags exactly the samples with at least this U); None when no U does (``rank_smallest_p``)."""
    if rank_smallest_p(n_baseline, n_current) >= alpha:
        return None
    low, high = 0, n_baseline * n_current
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if _p_at_u(n_baseline, n_current, mid) >= alpha else (low, mid)
    return low


@functools.lru_cache(maxsize=512)
def rank_detectable_shift(n_baseline: int, n_current: int, alpha: float, power: float = 0.8) -> float:
    """The shift of the log values, in units of their sd, at which the rank rule as coded (``rank_p_value``
    below ``alpha``: scipy's asymptotic Mann-Whitney U with continuity correction) flags ``power`` of
    ``RANK_POWER_DRAWS`` simulated comparisons of normal samples. The rule flags a comparison exactly when
    its U reaches ``rank_critical_u``, so each draw counts U instead of calling scipy. The seed is fixed
    and the draws are the same at every shift, so the power rises with the shift and a bisection finds it
    to 0.1% of sd. ``math.inf`` when the sizes cannot reach ``alpha`` at all."""
    import numpy as np

    critical = rank_critical_u(n_baseline, n_current, alpha)
    if critical is None:
        return math.inf
    rng = np.random.default_rng(RANK_POWER_SEED)
    base = rng.standard_normal((RANK_POWER_DRAWS, 1, n_baseline))
    cur = rng.standard_normal((RANK_POWER_DRAWS, n_current, 1))

    def flagged(shift: float) -> float:
        u = (cur + shift > base).sum(axis=(1, 2))
        return float(np.mean(u >= critical))

    low, high = 0.0, 1.0
    while flagged(high) < power:
        low, high = high, 2 * high
        if high > 1e3:  # the rule never gets there: as good as undetectable
            return math.inf
    while high - low > 1e-3:
        mid = (low + high) / 2
        low, high = (low, mid) if flagged(mid) >= power else (mid, high)
    return high
