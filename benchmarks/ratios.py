"""track_ benchmarks of the nightly's in-session ratios (harness/nightly/pairs.py): the benchmarked
commit runs in pairs with the previous nightly commit, in one session, and each gated time is
tracked as the geometric mean of its pair ratios current / previous, with the bounds of the
sequential gate's confidence sequence (harness/nightly/pairs.py). Host drift between nights cancels inside a night, so a step in the underlying level shows
as the one night whose ratio is above 1; every other night reads 1 within the pair noise.
``t4rec-bench nightly --steps`` names those nights.

Lower is better (a slower commit reads above 1). The environment, set by ``t4rec-bench nightly``
(its names are harness.nightly.pairs's ``*_VAR``): T4REC_BENCH_PREVIOUS_COMMIT (the previous nightly
commit), T4REC_BENCH_REPO (the repository to extract it from), T4REC_BENCH_PAIRS (pairs per night;
0 skips), T4REC_BENCH_PAIR_MODE (duet or alternating; empty: reference.interleaved's default).
Without a previous commit (a root commit, a re-run of the previous night, no repository) or on a
commit whose harness has no nightly_pairs, the benchmarks are skipped (asv: n/a).
"""

from __future__ import annotations

import os

from . import _shared

# asv runs the parameter list it discovered against every commit it benchmarks (a parameter is an
# index into the list), so the list must not depend on the benchmarked commit: the gated times, as
# harness.nightly.pairs.GATED derives them from policies.toml (tests/nightly/test_pairs.py checks they
# agree); a commit whose runs lack one reads n/a.
MEASUREMENTS = ("total.wall_s", "imports.wall_s", "etl.wall_s", "train.wall_s", "evaluate.wall_s", "total.cpu_s")


def nightly_pairs():
    """The benchmarked commit's harness.nightly.pairs (under its older paths too), which also names the
    environment variables (every version of it has the four); None for a commit from before it."""
    try:
        return _shared.harness_module("nightly.pairs", "run.nightly_pairs")
    except ImportError:
        return None


def default_pairs() -> int:
    """[nightly] max_pairs of this commit's policies (5 for a harness without the table)."""
    try:
        return nightly_pairs().settings().max_pairs
    except Exception:  # noqa: BLE001 - an older commit's harness
        return 5


def pairs() -> int:
    """Most pairs per night: $T4REC_BENCH_PAIRS, checked by the commit's ``night_pairs`` where it has
    one, else [nightly] max_pairs; 0 for a commit without nightly pairs."""
    module = nightly_pairs()
    if module is None:
        return 0
    text = os.environ.get(module.PAIRS_VAR, "").strip()
    if not text:
        return default_pairs()
    try:
        return module.night_pairs(text) if hasattr(module, "night_pairs") else int(text)
    except ValueError as exc:
        raise ValueError(f"{module.PAIRS_VAR}: {exc}") from None


def run_nights() -> dict:
    """{"skip": why or None, "previous": sha, "ratios": {profile: {measurement: (ratio, low, high)}}}."""
    module = nightly_pairs()
    if module is None:
        return {"skip": "this commit's harness has no nightly_pairs"}
    n = pairs()
    repo = os.environ.get(module.REPO_VAR, "").strip()
    if n == 0:
        return {"skip": f"{module.PAIRS_VAR}=0"}
    if not repo:
        return {"skip": f"{module.REPO_VAR} not set: no repository to take the previous commit from"}
    commit = os.environ.get("ASV_COMMIT") or os.environ.get(_shared.COMMIT_VAR) or "HEAD"
    previous = module.partner(repo, commit, os.environ.get(module.PREVIOUS_VAR, "").strip() or None)
    if previous is None:
        return {"skip": f"{commit[:10]}: no previous commit to pair with"}
    out = {}
    for profile in _shared.SELECTED:
        ratios, _, _, mode = module.run_pairs(_shared.build_config(profile), previous, repo, n,
                                              mode=os.environ.get(module.MODE_VAR, "").strip() or None)
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
