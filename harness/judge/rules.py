"""What every rule of harness/judge/compare.py shares, and the rules for metrics, loss and counts.

A rule takes the comparand's measurement ``b``, the current one ``c`` (record measurement dicts),
the comparison's ``Context`` and the measurement's policy, and returns its MeasurementVerdict:

- "exact-or-seed-spread" (ranking metrics, loss): ``metric``;
- "exact" (counts): ``exact``;
- "report-only": ``report_only``;
- "significance" (time, throughput, memory): harness/judge/significance.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config import OPTIONAL_STAGES, STAGE_ORDER
from harness.documents.record_types import Measurement
from harness.judge import stats
from harness.judge.verdict import MeasurementVerdict, make

TIME_KINDS = ("time", "throughput")  # judged against the in-session reference when there is one
QUALITY_KINDS = ("metric", "loss")  # exactly against the in-session reference in the same environment
_WORDS = {"time": ("slower", "faster"), "throughput": ("higher throughput", "lower throughput"),
          "memory": ("more memory", "less memory"),
          "metric": ("higher", "lower"), "loss": ("higher", "lower"), "count": ("higher", "lower")}


@dataclass(frozen=True)
class Context:
    env_match: bool  # environment fingerprints equal
    same_machine: bool  # cpu model, cores, RAM and machine class equal
    base_speed: tuple[float, ...]  # machine_speed.speed_s per repetition
    cur_speed: tuple[float, ...]
    seed_spread: dict = field(default_factory=dict)  # measurement name -> values over seeds
    throttled: tuple[str, ...] = ()  # GPU clock throttle reasons seen during the current run
    same_session: bool = False  # the baseline side was measured in this session (the in-session reference)
    paired: bool = False  # ... in pairs with the current runs: sample i of each side form a pair
    pair_mode: str | None = None  # paired: how the pairs ran (a [gate] mode); None when the reference does not say
    # paired and sequential: the check's sequential settings (repeat, min_pairs, max_pairs, design_pairs:
    # harness/pairing/gate.py, harness/judge/sequential.py); None: a fixed number of pairs
    sequential: dict | None = None
    looks_from: int | None = None  # a sequential check's first look: memory's level is spent over the looks
    exact_why: str = "exact: deterministic run, same environment and host numerics"
    differs_why: str = "the environment differs"  # why metrics get a tolerance instead of exactness


def family(policies, measurements) -> list[str]:
    """The names of ``measurements`` (record measurement dicts) whose policy is gated: the Bonferroni family
    that shares the [gate] budget (``policies.gate.alphas``)."""
    return [m["name"] for m in measurements if policies.for_measurement(m["name"], m["kind"]).in_family]


def gated_times(policies=None) -> tuple[str, ...]:
    """The wall and CPU times in the ``family`` of ``policies`` (default: the committed file) of the
    stages every run has: the whole run first, then the stages in pipeline order; wall times first."""
    if policies is None:
        from harness.judge import policy

        policies = policy.load()
    stages = ("total", *(s for s in STAGE_ORDER if s != "total" and s not in OPTIONAL_STAGES))
    return tuple(family(policies, [{"name": f"{s}.{unit}", "kind": "time"} for unit in ("wall_s", "cpu_s")
                                   for s in stages]))


def direction(c: Measurement, change: float) -> tuple[str, str]:
    """(verdict, word) for a real change: regressed/improved and "slower"/"higher"/..."""
    up_word, down_word = _WORDS[c["kind"]]
    better = (change > 0) == c["higher_is_better"]
    return ("improved" if better else "regressed"), (up_word if change > 0 else down_word)


def reason_pct(x: float) -> str:
    """A percentage in a reason: one decimal, two significant figures below 0.1%."""
    return f"{x:.1f}%" if abs(x) >= 0.1 or x == 0 else f"{x:.2g}%"


# --- metrics, loss, counts ---------------------------------------------------------

def metric(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    """Exact within exact_tolerance in the same environment on a deterministic run, else within a
    tolerance from the seed spread (or the policy's fallback)."""
    bm, cm = b["value"], c["value"]
    delta, tol = cm - bm, pol.exact_tolerance
    deterministic = _span(b["samples"]) <= tol and _span(c["samples"]) <= tol
    if ctx.env_match and deterministic:
        tolerance, source, conf = tol, ctx.exact_why, None
    else:
        why = ctx.differs_why if not ctx.env_match else "the run is not deterministic"
        tolerance, source = _metric_tolerance(b, ctx, pol)
        source, conf = f"{why}; tolerance from {source}", pol.confidence
    def as_pct(x: float) -> float | None:
        return 100.0 * x / abs(bm) if bm else None

    common = dict(baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), confidence=conf,
                  threshold_pct=as_pct(tolerance), min_detectable_pct=as_pct(tolerance),
                  ci_low_pct=None if conf is None else as_pct(delta - tolerance),
                  ci_high_pct=None if conf is None else as_pct(delta + tolerance))
    if abs(delta) <= tolerance:
        return make(c, **common, verdict="ok", reason=f"within ±{tolerance:.3g} ({source})")
    verdict, word = direction(c, delta)
    return make(c, **common, verdict=verdict, reason=f"{abs(delta):.4g} {word}, beyond ±{tolerance:.3g} ({source})")


def _metric_tolerance(b: Measurement, ctx: Context, pol) -> tuple[float, str]:
    candidates = []
    spread = ctx.seed_spread.get(b["name"]) or []
    if len(spread) >= 2:
        candidates.append((stats.seed_tolerance(spread, pol.confidence), f"the {len(spread)}-seed spread"))
    if len(b["samples"]) >= 2 and _span(b["samples"]) > pol.exact_tolerance:
        candidates.append((stats.seed_tolerance(b["samples"], pol.confidence),
                           f"the spread of {len(b['samples'])} baseline runs"))
    if candidates:
        tolerance, source = max(candidates)
        return max(tolerance, pol.exact_tolerance), source
    return (max(pol.fallback_tolerance_pct / 100 * abs(b["value"]), pol.exact_tolerance),
            f"the policy's {pol.fallback_tolerance_pct:g}% fallback (no seed spread: "
            f"record the baseline with --seeds 3)")


def _span(samples) -> float:
    return max(samples) - min(samples)


def exact(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    """Any change, or any spread between repetitions, is a regression."""
    bm, cm = b["value"], c["value"]
    common = dict(baseline=bm, current=cm, change_pct=stats.change_pct(bm, cm), threshold_pct=0.0)
    if bm == cm and _span(b["samples"]) == 0 and _span(c["samples"]) == 0:
        return make(c, **common, verdict="ok", reason="unchanged")
    what = f"changed from {bm:g} to {cm:g}" if bm != cm else "varies between repetitions"
    return make(c, **common, verdict="regressed",
                reason=f"{what}: a count follows from the workload alone, so the computation changed")


def report_only(b: Measurement, c: Measurement, ctx: Context, pol) -> MeasurementVerdict:
    """Shown with its change, never gated (and outside the Bonferroni family)."""
    bm, cm = b["value"], c["value"]
    change = stats.change_pct(bm, cm)
    what = "" if change is None else f": {change:+.1f}%"
    return make(c, baseline=bm, current=cm, change_pct=change, verdict="ok",
                reason=f"not gated (policy {pol.name!r} is report-only){what}")
