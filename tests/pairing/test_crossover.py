"""CPU placement of a pair's sides (harness/pairing/crossover.py), on real processes and threads."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from harness.pairing import crossover

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two = pytest.mark.skipif(len(CPUS) < 2 or not crossover.supported(), reason="needs 2 CPUs and Linux affinity")

# a process with a second thread and a child process, all sleeping
SLEEPER = ("import subprocess, sys, threading, time; threading.Thread(target=time.sleep, args=(60,), daemon=True).start(); "
           "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); print('ready', flush=True); "
           "time.sleep(60)")


def test_slots_are_disjoint_and_need_enough_cpus():
    assert crossover.slots([0, 1], 2, 1) == [{0}, {1}]
    assert crossover.slots([0, 1, 2, 3, 4], 2, 2) == [{0, 1}, {2, 3}]
    assert crossover.slots([0, 1], 3, 1) is None


def test_each_side_holds_every_slot_equally_and_never_the_same_one():
    n, ticks = 2, 40
    for offset in (0, 1):
        held = [[crossover.slot_of(side, t, offset, n) for t in range(ticks)] for side in range(n)]
        assert all(a != b for a, b in zip(*held))
        assert all(h.count(0) == h.count(1) == ticks // 2 for h in held)
    assert crossover.slot_of(0, 0, 0, 2) != crossover.slot_of(0, 0, 1, 2)  # the next pair starts on the other CPU


def _tree_masks(pid: int) -> list[set[int]]:
    import psutil

    masks = []
    for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        masks += [os.sched_getaffinity(int(t)) for t in os.listdir(f"/proc/{p.pid}/task")]
    return masks


@pytest.fixture
def sleepers():
    procs = [subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # the child's interpreter is up
    yield procs
    import psutil

    for p in procs:
        for c in psutil.Process(p.pid).children(recursive=True):
            c.kill()
        p.kill()
        p.wait()


@needs_two
@pytest.mark.parametrize("period_s, swaps", [(0.25, True), (None, False)], ids=["crossover", "pinned"])
def test_every_thread_of_each_tree_is_placed_and_crossover_trades_the_slots(sleepers, period_s, swaps):
    slots = crossover.slots(CPUS, 2, 1)
    place = crossover.Placement(slots, period_s, offset=1)
    for side, p in enumerate(sleepers):
        place.add(side, p.pid)
    first = [_tree_masks(p.pid) for p in sleepers]
    assert all(len(m) >= 3 for m in first)  # main thread, its thread, the child process
    assert all(m == [slots[(side + 1) % 2]] * len(m) for side, m in enumerate(first))
    place.step()
    second = [_tree_masks(p.pid) for p in sleepers]
    assert (second == first[::-1]) if swaps else (second == first)
    place.remove(sleepers[0].pid)
    place.step()
    assert _tree_masks(sleepers[0].pid) == second[0]  # removed: no longer moved


@needs_two
def test_the_placement_thread_ticks_on_its_own(sleepers):
    slots = crossover.slots(CPUS, 2, 1)
    with crossover.Placement(slots, 0.05) as place:
        place.add(0, sleepers[0].pid)
        deadline = time.monotonic() + 5
        while place.tick < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert place.tick >= 4
    assert place._thread.is_alive() is False


def test_tree_follows_parent_links_from_the_root_only():
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}
    assert sorted(crossover.tree(10, parents)) == [10, 11, 12, 13]
    assert crossover.tree(99, parents) == []  # ended


def test_the_side_moved_first_takes_turns_tick_by_tick(monkeypatch):
    """While one side has moved and the other not yet, both share one CPU: which side moves first rotates
    every tick, so neither is always the one that waits."""
    place = crossover.Placement([{0}, {1}, {2}], 0.1)
    moved: list[int] = []
    monkeypatch.setattr(crossover, "_parents", dict)
    monkeypatch.setattr(place, "_place", lambda pid, side, parents=None: moved.append(side))
    for side in range(3):
        place._roots[100 + side] = side
    firsts = []
    for _ in range(6):
        moved.clear()
        place.step()
        assert sorted(moved) == [0, 1, 2]  # every side, once a tick
        firsts.append(moved[0])
    assert firsts.count(0) == firsts.count(1) == firsts.count(2) == 2
