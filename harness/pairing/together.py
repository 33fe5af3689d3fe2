"""The sides of one round that run at once: which start together, their launch barrier, their CPUs.

harness/pairing/reference.py interleaves the current code with its arms, round after round; this module
runs one round in the modes whose sides run at the same time (TOGETHER, [gate] mode). Each side needs
the profile's threads, so a round's sides start together only as many as the CPUs hold (``groups``):

- all of them, when they fit;
- else, for the gate's three sides on a two-CPU machine (the reference, the current code, and the cross
  arm that runs when the environment differs from the baseline's), two pairs, one after the other in
  rotating order: the reference with the current code, and the cross arm with a second run of the
  reference, ``PARTNER``. Each comparison the judge makes then stays inside pairs: the verdict (current
  against reference) and the environment's effect (cross against partner) each inside one pair, the
  code's effect as the difference of the two pairs' log ratios (harness/judge/compare.py _attributed).

Before, three sides on two CPUs ran one after the other (alternating), whose pair noise is several
times crossover's (docs/measurements.md, "Three sides on two CPUs").
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.pairing import crossover
from harness.run import barrier

TOGETHER = ("crossover", "pinned", "duet")  # modes whose sides run at the same time (harness/judge/policy.py MODES)
PARTNER = "partner"  # the second run of the reference in a round split in two pairs (``groups``)


def order(i: int, sides: list) -> list:
    """The order of the sides in round ``i``: rotated every round, so each side starts first as often
    as the others and a pair's two sides swap places (R C, C R, ... for two sides)."""
    k = i % len(sides)
    return sides[k:] + sides[:k]


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fits(config, sides: int) -> bool:
    """Whether ``sides`` sides of ``config``'s threads each fit this process's CPUs at once."""
    return sides * (config.threads or cores()) <= cores()


def split(config, sides: int, mode: str) -> bool:
    """Whether a round of ``sides`` sides runs as two pairs (``groups``): three sides in a mode that runs
    them at once, on CPUs that hold two of them but not three."""
    return mode in TOGETHER and sides == 3 and fits(config, 2) and not fits(config, 3)


def groups(config, sides: list[str], mode: str) -> list[list[str]]:
    """The sides of a round, in the groups that start together: [sides], or the two pairs of ``split``
    (the first two sides, then the third with PARTNER)."""
    if not split(config, len(sides), mode):
        return [sides]
    return [sides[:2], [sides[2], PARTNER]]


def one_round(run, i: int, rounds: list[list[str]], repeat: int, mode: str, joining: list, barrier_dir: Path,
              period_s: float | None, barrier_timeout_s: float | None) -> dict:
    """Run round ``i``: each group of ``rounds`` (``groups``) together at a barrier, the groups in
    rotating order, or, when ``mode`` runs no side at once, every side one after the other; how the sides
    started (the first group's entry that is not a met barrier, else that of the first group)."""
    if mode not in TOGETHER:
        for side in order(i, [s for group in rounds for s in group]):
            run(side, repeat)
        return {}
    launches = []
    for g, group in enumerate(order(i, rounds)):
        members = joining if len(rounds) == 1 else [a for a in joining if a.name in group]
        env, launch = barrier_env(members, barrier_dir.with_name(f"{barrier_dir.name}-{g}"), len(group),
                                  barrier_timeout_s)
        with placement(run.config, mode, len(group), i, period_s) as place:
            at_once([_side(run, s, repeat, place, group.index(s), env) for s in order(i, group)])
        launches.append(launch)
    return next((x for x in launches if x.get("launch") != "barrier"), launches[0])


def _side(run, side: str, repeat: int, place, index: int, env: dict):
    """One side's call: ``run`` it in slot ``index`` of ``place``, with the barrier's environment and a launch pad
    of its own (harness/run/barrier.py launch_pad)."""
    return lambda: run(side, repeat, place, index, {**env, **barrier.launch_pad()})


def barrier_env(arms, folder: Path, parties: int, timeout_s: float | None) -> tuple[dict, dict]:
    """The sides' extra environment for one pair that starts at once, and its launch entry: a barrier in
    ``folder`` when every side's code can join it, else none and why."""
    old = [a for a in arms if not barrier.joinable(a.code.code_dir)]
    if old:
        return {}, {"launch": f"no barrier: the {old[0].name} code ({old[0].code.commit[:10]}) predates the "
                              f"launch barrier; the sides started through the same entry point, in rotating order"}
    if timeout_s is None:
        from harness.judge import policy

        timeout_s = policy.committed_gate().barrier_timeout_s
    folder.mkdir()
    return {barrier.ENV: barrier.spec(folder, parties, timeout_s)}, {"launch": "barrier"}


def started(launch: dict, records: list[list], i: int) -> dict:
    """Round ``i``'s launch entry, "apart" when a side of a barrier pair waited in vain (its record's note);
    ``records``: every side's records."""
    if launch.get("launch") != "barrier":
        return launch
    recs = [r[i] for r in records if len(r) > i]
    alone = any(n.startswith(barrier.NOTE) for r in recs for n in r.get("notes") or [])
    return {"launch": "apart" if alone else "barrier"}


def launch_words(pairs_log: list[dict]) -> str | None:
    """How the pairs' sides started, as one phrase for the verdict (None when no pair ran at once)."""
    launches = [p["launch"] for p in pairs_log if p.get("launch")]
    if not launches:
        return None
    met = sum(x == "barrier" for x in launches)
    if met == len(launches):
        return f"the sides started their first stage together, at a barrier, in all {met} pairs"
    why = next((x for x in launches if x not in ("barrier", "apart")), None)
    if met == 0 and why:
        return why
    return (f"the sides started their first stage together, at a barrier, in {met} of {len(launches)} pairs"
            + (f" ({why})" if why else " (in the others a side waited [gate] barrier_timeout_s in vain)"))


def placement(config, mode: str, sides: int, pair: int, period_s: float | None):
    """The CPU placement of one group (a context manager; a no-op for duet)."""
    import contextlib

    if mode == "duet":
        return contextlib.nullcontext(None)
    cpus = sorted(os.sched_getaffinity(0))
    slots = crossover.slots(cpus, sides, config.threads or len(cpus))
    assert slots is not None, "groups() starts together only the sides whose threads fit the CPUs"
    if mode == "crossover" and period_s is None:
        from harness.judge import policy

        period_s = policy.committed_gate().crossover_period_s
    return crossover.Placement(slots, period_s if mode == "crossover" else None, offset=pair)


def placed(place, index: int):
    """``reference.run_once``'s ``started`` callback that registers the side's process with ``place`` (or None)."""
    if place is None:
        return None
    pid = []

    def on_start(p):
        if p is not None:
            pid.append(p)
            place.add(index, p)
        elif pid:
            place.remove(pid[0])
    return on_start


def at_once(calls) -> None:
    """Start ``calls`` at once, in the given order, and wait for all; re-raise the first error."""
    import threading

    errors: list = []

    def guarded(call):
        try:
            call()
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
