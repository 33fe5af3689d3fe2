"""track_ benchmarks of the nightly's in-session ratios (harness/nightly/pairs.py): the benchmarked
commit runs in pairs with the previous nightly commit, in one session, and each gated time is
tracked as the geometric mean of its pair ratios current / previous, with the bounds of the
sequential gate's confidence sequence (harness/nightly/pairs.py). Host drift between nights cancels inside a night, so a step in the underlying level shows
as the one night whose ratio is above 1; every other night reads 1 within the pair noise.
``t4rec-bench nightly --steps`` names those nights.

Lower is better (a slower commit reads above 1). The environment, set by ``t4rec-bench nightly``:
T4REC_BENCH_PREVIOUS_COMMIT (the previous nightly commit), T4REC_BENCH_REPO (the repository to
extract it from), T4REC_BENCH_PAIRS (pairs per night; 0 skips), T4REC_BENCH_PAIR_MODE (duet or
alternating; empty: reference.interleaved's default). Without a previous commit (a root commit,
a re-run of the previous night, no repository) or on a commit whose harness has no
nightly_pairs, the benchmarks are skipped (asv: n/a).
"""

from __future__ import annotations

import os

from . import _shared

# The gated times (harness.nightly.pairs.GATED; tests/nightly/test_pairs.py checks they agree).
MEASUREMENTS = ("total.wall_s", "imports.wall_s", "etl.wall_s", "train.wall_s", "evaluate.wall_s", "total.cpu_s")
PREVIOUS_VAR, REPO_VAR = "T4REC_BENCH_PREVIOUS_COMMIT", "T4REC_BENCH_REPO"
PAIRS_VAR, MODE_VAR = "T4REC_BENCH_PAIRS", "T4REC_BENCH_PAIR_MODE"


def default_pairs() -> int:
    """[nightly] max_pairs of this commit's policies (5 for a harness without the table)."""
    try:
        return _shared.harness_module("nightly.pairs", "run.nightly_pairs").settings().max_pairs
    except Exception:  # noqa: BLE001 - an older commit's harness
        return 5


def pairs() -> int:
    """Most pairs per night: 0 (skip) or at least 2 (one pair has no interval)."""
    text = os.environ.get(PAIRS_VAR, "").strip()
    n = int(text) if text.isdigit() else (default_pairs() if not text else -1)
    if n < 0 or n == 1:
        raise ValueError(f"{PAIRS_VAR}={text!r}: pairs per night must be 0 (skip) or at least 2")
    return n


def run_nights() -> dict:
    """{"skip": why or None, "previous": sha, "ratios": {profile: {measurement: (ratio, low, high)}}}."""
    try:
        nightly_pairs = _shared.harness_module("nightly.pairs", "run.nightly_pairs")
    except ImportError:
        return {"skip": "this commit's harness has no nightly_pairs"}
    n = pairs()
    repo = os.environ.get(REPO_VAR, "").strip()
    if n == 0:
        return {"skip": f"{PAIRS_VAR}=0"}
    if not repo:
        return {"skip": f"{REPO_VAR} not set: no repository to take the previous commit from"}
    commit = os.environ.get("ASV_COMMIT") or os.environ.get(_shared.COMMIT_VAR) or "HEAD"
    previous = nightly_pairs.partner(repo, commit, os.environ.get(PREVIOUS_VAR, "").strip() or None)
    if previous is None:
        return {"skip": f"{commit[:10]}: no previous commit to pair with"}
    out = {}
    for profile in _shared.SELECTED:
        ratios, _, _, mode = nightly_pairs.run_pairs(_shared.build_config(profile), previous, repo, n,
                                                     mode=os.environ.get(MODE_VAR, "").strip() or None)
        out[profile] = {k: (r.ratio, r.low, r.high) for k, r in ratios.items()}
        total = ratios.get("total.wall_s")
        if total:
            print(f"t4rec-bench: {profile}: {n} {mode} pairs vs {previous[:10]}: total.wall_s ratio "
                  f"{total.ratio:.4f} ({total.low:.4f}..{total.high:.4f})")
    return {"skip": None, "previous": previous, "ratios": out}


class Ratio:
    """current / previous per gated time: the geometric mean of the night's pair ratios (track_ratio)
    and the bounds of its anytime-valid interval (track_ratio_low, track_ratio_high)."""

    params = (_shared.PROFILES, MEASUREMENTS)
    param_names = ("profile", "measurement")
    unit = "ratio"
    timeout = 600.0

    def setup_cache(self):
        return run_nights()

    setup_cache.timeout = 2 * max(pairs(), 1) * _shared.budget_s()

    def setup(self, nights, profile, measurement):
        if nights.get("skip"):
            raise NotImplementedError(nights["skip"])
        _shared.skip_unselected(profile)
        if measurement not in nights["ratios"].get(profile, {}):
            raise NotImplementedError(f"no ratio of {measurement!r} (the runs lack it)")

    def _value(self, nights, profile, measurement, i: int) -> float:
        return nights["ratios"][profile][measurement][i]

    def track_ratio(self, nights, profile, measurement):
        return self._value(nights, profile, measurement, 0)

    def track_ratio_low(self, nights, profile, measurement):
        return self._value(nights, profile, measurement, 1)

    def track_ratio_high(self, nights, profile, measurement):
        return self._value(nights, profile, measurement, 2)
