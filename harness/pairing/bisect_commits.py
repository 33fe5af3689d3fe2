"""Which commit of a linear history made a measurement regress: the search of `t4rec-bench bisect`.

Pure: the caller runs the duels (harness/pairing/bisect_run.py) and passes ``duel(commit, against)``,
which returns a ``Judged``. The flow:

1. BAD against GOOD. Unless it regressed there is nothing to bisect (the outcome says ok or undecided).
2. Halving over the first-parent commits after GOOD up to BAD: each step duels the midpoint against GOOD.
   regressed: the culprit is the midpoint or before it; ok or improved (a regression of the policy's
   margin ruled out): after it; undecided: the search stops there and names the step and the commits
   left (a neighbour would be judged with the same noise: more pairs, ``--pairs``, or a narrower range
   decide it); skip (the commit did not build or run, as ``git bisect skip``): the nearest untested
   commit to the midpoint is tried instead, and when only skipped commits are left before a regressed
   one, the first bad commit is among them.
3. The culprit against its parent (its own change; the step's duel again when the parent is GOOD).
   When that change is clearly smaller (ruled out at the margin, or its interval wholly below the other's)
   than the culprit's change against GOOD, the regression needs several commits together, and the commits
   after GOOD up to the culprit are named; when it is clearly smaller than GOOD -> BAD's, later commits add
   to it, and the culprit up to BAD are named (``together``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import EXIT_RUN_FAILED, HarnessError

REGRESSED, IMPROVED, OK, UNDECIDED = "regressed", "improved", "ok", "undecided"  # harness/judge/sequential.py
SKIP = "skip"  # the commit did not build or run

# Outcomes of a bisection.
CULPRIT = "culprit"  # one commit named
NO_REGRESSION = "no-regression"  # BAD does not regress against GOOD
UNDECIDED_OUTCOME = "undecided"  # a duel could not tell, so the search stopped
SKIPPED = "skipped"  # the first bad commit is among commits that did not build or run


@dataclass(frozen=True)
class Judged:
    """One duel's verdict on a commit against another (harness/pairing/duel.py Result), or a skip."""
    state: str  # REGRESSED, IMPROVED, OK, UNDECIDED or SKIP
    change_pct: float = math.nan  # the commit against the other: estimate and anytime interval, percent
    low_pct: float = math.nan
    high_pct: float = math.nan
    pairs: int = 0
    higher_is_better: bool = False  # the measurement's direction
    words: str = ""  # one line: the change and its interval, or why the commit was skipped
    detail: object = None  # the duel's Result, for the result document


@dataclass(frozen=True)
class Probe:
    commit: str
    against: str
    left: int  # candidates left when the step ran
    judged: Judged


@dataclass(frozen=True)
class Outcome:
    outcome: str  # CULPRIT, NO_REGRESSION, UNDECIDED_OUTCOME or SKIPPED
    total: Judged  # BAD against GOOD
    probes: tuple[Probe, ...]  # the halving's duels, in order
    suspects: tuple[str, ...]  # the commits the first bad one is among (the culprit alone once found)
    culprit: str | None = None
    parent: str | None = None  # the culprit's first parent
    own: Judged | None = None  # the culprit against its parent
    together: tuple[str, ...] = ()  # the commits that make the regression together (``together``), or ()
    undecided_at: str | None = None  # the commit whose duel could not decide


def bisect(good: str, commits: list[str], duel: Callable[[str, str], Judged],
           say: Callable[[str], None] | None = None) -> Outcome:
    """Bisect ``commits`` (the first-parent line after ``good``, oldest first, BAD last)."""
    say = say or (lambda line: None)
    duel = _remembered(duel)
    say(f"bisect: {len(commits)} candidates; first {commits[-1][:10]} (BAD) against {good[:10]} (GOOD)")
    total = duel(commits[-1], good)
    if total.state == SKIP:
        raise HarnessError(f"BAD {commits[-1][:10]} cannot be bisected to: {total.words}", EXIT_RUN_FAILED)
    if total.state != REGRESSED:
        outcome = UNDECIDED_OUTCOME if total.state == UNDECIDED else NO_REGRESSION
        undecided_at = commits[-1] if total.state == UNDECIDED else None
        return Outcome(outcome, total, (), tuple(commits), undecided_at=undecided_at)
    found = search(good, commits, duel, say)
    if found.outcome != CULPRIT:
        return Outcome(found.outcome, total, found.probes, found.suspects, undecided_at=found.undecided_at)
    culprit = found.culprit
    assert culprit is not None  # search's CULPRIT outcome always names it
    i = commits.index(culprit)
    parent = commits[i - 1] if i else good
    say(f"bisect: culprit {culprit[:10]}; its own change: against its parent {parent[:10]}")
    own = duel(culprit, parent)
    alone = duel(culprit, good)  # remembered: the step that named it (GOOD -> BAD when it is BAD)
    return Outcome(CULPRIT, total, found.probes, (culprit,), culprit, parent, own,
                   together(commits, i, own, alone, total))


def search(good: str, commits: list[str], duel: Callable[[str, str], Judged],
           say: Callable[[str], None] | None = None) -> Outcome:
    """Step 2 alone: the first commit whose duel against ``good`` regressed, ``commits[-1]`` known to."""
    say = say or (lambda line: None)
    lo, hi = 0, len(commits) - 1
    skipped: set[int] = set()
    probes: list[Probe] = []
    while lo < hi:
        mid = pick(lo, hi, skipped)
        if mid is None:
            return Outcome(SKIPPED, Judged(REGRESSED), tuple(probes), tuple(commits[lo:hi + 1]))
        say(f"bisect: {hi - lo + 1} candidates left ({commits[lo][:10]}..{commits[hi][:10]}); "
            f"testing {commits[mid][:10]} against GOOD")
        judged = duel(commits[mid], good)
        probes.append(Probe(commits[mid], good, hi - lo + 1, judged))
        say(f"bisect: {commits[mid][:10]}: {'skipped: ' if judged.state == SKIP else ''}{judged.words}")
        if judged.state == SKIP:
            skipped.add(mid)
        elif judged.state == REGRESSED:
            hi = mid
        elif judged.state in (OK, IMPROVED):
            lo = mid + 1
        else:
            return Outcome(UNDECIDED_OUTCOME, Judged(REGRESSED), tuple(probes), tuple(commits[lo:hi + 1]),
                           undecided_at=commits[mid])
    return Outcome(CULPRIT, Judged(REGRESSED), tuple(probes), (commits[hi],), commits[hi])


def pick(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The commit to test among ``lo``..``hi - 1`` (``hi`` regressed): the midpoint, else the nearest
    untested one to it (later first), else None when every one was skipped."""
    mid = (lo + hi) // 2
    for k in range(hi - lo):
        for i in (mid + k, mid - k):
            if lo <= i < hi and i not in skipped:
                return i
    return None


def together(commits: list[str], i: int, own: Judged, alone: Judged, total: Judged) -> tuple[str, ...]:
    """The commits that make the regression together with ``commits[i]``, the culprit, or () when its own
    change (``own``, against its parent) is not clearly smaller: the commits after GOOD up to it when its
    own change is clearly smaller than its change against GOOD (``alone``): the earlier ones carry part of
    it; else the culprit up to BAD when its own change is clearly smaller than GOOD -> BAD's (``total``):
    later ones add to it."""
    if i and clearly_smaller(own, alone):
        return tuple(commits[:i + 1])
    if clearly_smaller(own, total):
        return tuple(commits[i:])
    return ()


def clearly_smaller(own: Judged, total: Judged) -> bool:
    """Whether the culprit's own change is clearly smaller than GOOD -> BAD's: ruled out at the policy's
    margin, or its interval wholly on the better side of GOOD -> BAD's."""
    if own.state in (OK, IMPROVED):
        return True
    if own.higher_is_better:  # worse is lower
        return own.low_pct > total.high_pct
    return own.high_pct < total.low_pct


def _remembered(duel: Callable[[str, str], Judged]) -> Callable[[str, str], Judged]:
    """``duel`` run once per (commit, against): the culprit against GOOD is not run twice."""
    seen: dict[tuple[str, str], Judged] = {}

    def once(commit: str, against: str) -> Judged:
        if (commit, against) not in seen:
            seen[(commit, against)] = duel(commit, against)
        return seen[(commit, against)]
    return once
