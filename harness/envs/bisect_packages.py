"""Which changed distribution caused a regression: halving over the distributions that differ
between a good and a bad environment. Pure: the caller builds and times the environments
(``env_layered.layered``) inside ``is_bad``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.envs.layered import TOOLING
from harness.measure.environment import canonical_name

Verdict = bool | None  # True: regresses; False: does not; None: cannot tell


def changed(good: dict[str, str], bad: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """name -> (good version or None, bad version or None) for every distribution that differs,
    sorted by name; the harness itself and the installers (harness.envs.layered.TOOLING) left out."""
    names = sorted(set(good) | set(bad))
    return {name: (good.get(name), bad.get(name)) for name in names
            if canonical_name(name) not in TOOLING and good.get(name) != bad.get(name)}


@dataclass(frozen=True)
class BisectResult:
    culprits: tuple[str, ...]  # one name when exact, else the smallest set that could not be split
    exact: bool  # True when one distribution alone was shown (or is known) to regress
    steps: list[tuple[tuple[str, ...], Verdict]]  # every subset tested, in order, with its verdict
    reason: str  # one line for the user


def bisect(candidates: list[str], is_bad: Callable[[list[str]], Verdict],
           progress: Callable[[str], None] | None = None) -> BisectResult:
    """Halve ``candidates`` until one distribution is named.

    The caller has seen the regression with all candidates changed together. ``is_bad(subset)``
    says whether the good environment plus the bad versions of ``subset`` regresses (True), does
    not (False) or cannot tell (None). Each step tests the larger half first and the other half
    only when the first is clean. When both halves are clean (the regression needs changes from
    both together) or a verdict is None, the set left is reported as one that cannot be split.
    """
    say = progress or (lambda line: None)
    left = list(candidates)
    steps: list[tuple[tuple[str, ...], Verdict]] = []
    if not left:
        return BisectResult((), False, steps, "no distribution changed between the environments")
    while len(left) > 1:
        half, rest = left[:(len(left) + 1) // 2], left[(len(left) + 1) // 2:]
        verdict = _test(half, left, is_bad, say, steps)
        if verdict is False:
            verdict = _test(rest, left, is_bad, say, steps)
            half = rest
        if verdict is True:
            left = half
        else:
            return BisectResult(tuple(left), False, steps, _unsplit(left, steps))
    how = "it regresses alone" if steps else "the only distribution that changed"
    return BisectResult(tuple(left), True, steps, f"{left[0]}: {how}")


def _test(subset: list[str], left: list[str], is_bad, say, steps: list) -> Verdict:
    say(f"bisect: {len(left)} candidates left: {', '.join(left)}; testing {', '.join(subset)}")
    verdict = is_bad(list(subset))
    steps.append((tuple(subset), verdict))
    return verdict


def _unsplit(left: list[str], steps: list) -> str:
    subset, verdict = steps[-1]
    names = ", ".join(left)
    if verdict is None:
        return f"cannot be split: could not tell whether {', '.join(subset)} regresses; the cause is among {names}"
    return (f"cannot be split: {names} regress together but neither half does alone "
            f"(the regression needs changes from both halves)")
