"""A duel: two code trees, each run by its own interpreter, in pairs judged after every pair by the gate's
one paired decision, stopping as soon as it is decided.

The pairs run as `check`'s do (harness/pairing/reference.py ``interleaved``, in the [gate] mode of
harness/policies.toml, falling back as ``pairing`` says when the machine cannot hold it), each side through
its own tree's ``python -m harness.cli run``. After each pair the chosen measurement is judged by
harness/judge/significance.py ``paired_look`` (the anytime-valid sequence of harness/judge/sequential.py at
the gate's primary level, with the measurement's policy) and the pairs stop by
harness/judge/decide.py ``stop_pairs``: decided, or at [gate] max_pairs. No statistics are computed here.

`bisect` duels a commit against GOOD (harness/pairing/bisect_run.py); `bisect-env` duels this tree in
two environments (harness/commands/bisect_env.py).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.documents.record_types import Measurement, RunRecord
from harness.errors import EXIT_RUN_FAILED, HarnessError
from harness.judge.policy import PolicySet
from harness.pairing import reference


@dataclass(frozen=True)
class Side:
    """One side of a duel: ``code`` run by the interpreter ``python``."""
    name: str  # in messages: "good", "bad", a short sha
    code: reference.Reference
    python: str = sys.executable


class SideFailed(HarnessError):
    """A side's run failed or left no record (exit 4); ``side`` names it."""

    def __init__(self, side: str, message: str):
        super().__init__(message, EXIT_RUN_FAILED)
        self.side = side


@dataclass(frozen=True)
class Result:
    """The last look of a duel: ``other`` against ``base`` on ``metric``."""
    metric: str
    state: str  # harness/judge/sequential.py: regressed, improved, ok or undecided
    pairs: int
    change_pct: float  # the estimate: other / base - 1, in percent (geometric mean of the pair ratios)
    low_pct: float  # the anytime interval's bounds, each one-sided at the gate's primary level
    high_pct: float
    p_value: float  # anytime-valid one-sided p of "no change", in the observed direction
    mode: str  # how the pairs ran (harness/judge/policy.py MODES)
    higher_is_better: bool = False  # the measurement's direction (from the records)
    base: tuple = ()  # the base side's values, in pair order
    other: tuple = ()  # the other side's values, in pair order

    def words(self) -> str:
        return (f"{self.metric} {self.change_pct:+.1f}% [{self.low_pct:+.1f}%, {self.high_pct:+.1f}%] after "
                f"{self.pairs} {self.mode} pairs: {self.state} (anytime one-sided p {self.p_value:.2g})")


def settings(policies: PolicySet, pairs: int | None = None) -> dict:
    """The sequential state ``paired_look`` and ``stop_pairs`` read: ``pairs`` (default [gate] repeat) before
    stopping undecided unless more could decide, up to [gate] max_pairs; at least [gate] min_pairs."""
    g = policies.gate
    repeat = pairs or g.repeat
    return {"repeat": repeat, "min_pairs": min(g.min_pairs, repeat), "max_pairs": max(repeat, g.max_pairs),
            "design_pairs": g.design_pairs}


def duel(config, base: Side, other: Side, metric: str, policies: PolicySet, pairs: int | None = None,
         mode: str | None = None, say: Callable[[str], None] | None = None) -> Result:
    """Pairs of ``other`` and ``base`` on ``config``'s workload, judged on ``metric`` after each.

    ``mode``: how a pair runs (default [gate] mode); ``say``: one line per pair (the look so far).
    SideFailed when a side's run fails; HarnessError when the records lack ``metric``."""
    used, why = reference.pairing(config, 2, mode or policies.gate.mode)
    if why and say:
        say(why)
    looks = _Looks(metric, policies, settings(policies, pairs), used, say or (lambda line: None))
    try:
        current, arms, dropped = reference.interleaved(
            config, looks.settings["max_pairs"], [reference.Arm(base.name, base.code, base.python)],
            command=f"duel {other.name} vs {base.name}", mode=used, stop=looks,
            period_s=policies.gate.crossover_period_s, barrier_timeout_s=policies.gate.barrier_timeout_s,
            current=reference.Arm(other.name, other.code, other.python))
    except HarnessError as exc:  # only the current side's run raises: an arm's failure is ``dropped``
        raise SideFailed(other.name, f"{other.name}: {exc}") from exc
    if looks.error is not None:
        raise looks.error
    if current and current[-1]["status"] != "ok":
        f: Mapping[str, object] = current[-1].get("failure") or {}
        raise SideFailed(other.name, f"{other.name}: the run failed in stage {f.get('stage')!r} "
                                     f"({f.get('kind')}: {f.get('message')})")
    if dropped:
        raise SideFailed(base.name, dropped)
    return looks.result(arms[base.name], current)


@dataclass
class _Looks:
    """interleaved()'s ``stop``: the paired decision on ``metric`` after each complete pair."""
    metric: str
    policies: PolicySet
    settings: dict
    mode: str
    say: Callable[[str], None]
    last: Result | None = field(default=None)
    error: HarnessError | None = None  # the records cannot be judged (no such measurement): stop, then raise

    def __call__(self, current: list[RunRecord], arms: dict[str, list[RunRecord]]) -> bool:
        from harness.judge.decide import stop_pairs

        (base,) = arms.values()
        try:
            self.last, look = self._look(base, current)
        except HarnessError as exc:
            self.error = exc
            return True
        if look is None:
            return False
        self.say(f"  pair {self.last.pairs}: {self.last.words()}")
        return stop_pairs(look, self.last.pairs, self.settings)

    def result(self, base: list[RunRecord], current: list[RunRecord]) -> Result:
        result, _ = self._look(base, current)
        if result is None:
            raise HarnessError(f"{self.metric}: no pair with a positive value to judge")
        return result

    def _look(self, base: list[RunRecord], current: list[RunRecord]):
        from harness.judge.significance import paired_look

        n = min(len(base), len(current))
        a = [_measurement(r, self.metric) for r in base[:n]]
        b = [_measurement(r, self.metric) for r in current[:n]]
        if not b:
            return None, None
        pol = self.policies.for_measurement(self.metric, b[-1]["kind"])
        look = paired_look([m["value"] for m in a], [m["value"] for m in b], b[-1]["higher_is_better"], pol,
                           self.policies.gate.alpha_primary, self.settings)
        if look is None:
            return None, None
        s = look.seq
        return Result(self.metric, look.state, s.n, look.change_pct, _pct(s.low), _pct(s.high), s.p_value,
                      self.mode, b[-1]["higher_is_better"], tuple(m["value"] for m in a),
                      tuple(m["value"] for m in b)), look


def _pct(log_ratio: float) -> float:
    from harness.judge import sequential as seq

    return seq.log_pct(log_ratio)


def _measurement(rec: RunRecord, name: str) -> Measurement:
    """The measurement ``name`` of a run record; HarnessError naming the close names when it has none."""
    found = {m["name"]: m for m in rec["measurements"]}
    if name in found:
        return found[name]
    close = difflib.get_close_matches(name, sorted(found), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise HarnessError(f"the runs have no measurement {name!r}{hint}")
