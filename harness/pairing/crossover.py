"""CPU placement of a duet pair's sides (measured: docs/measurements.md, "Less noise per pair").

On this machine class the two CPUs run the same work at different, changing speeds, so in an
unpinned duet whichever side the scheduler leaves on the slower CPU reads slower. Two placements
cancel that inside the pair instead of leaving it to the average over pairs:

- ``crossover``: every ``period_s`` the sides trade CPU slots, so within one run each side spends
  equal time on each CPU;
- ``pinned``: each side keeps one slot for the whole pair, and the slots trade places every pair
  (a 2x2 crossover over two pairs).

A slot is ``threads`` CPUs of this process's affinity (``slots``). The placement is set on every
thread of every process in a side's tree (``sched_setaffinity`` acts on one thread; new threads and
processes inherit their creator's mask, and the next tick catches the rest). The thread that does it
reads /proc once a tick; the pair's host record (harness.measure.host) counts its CPU time in the
parent's share.
"""

from __future__ import annotations

import os
import threading

PLACEMENTS = ("crossover", "pinned")
REFRESH_S = 0.25  # pinned: how often late-born processes and threads are caught up


def slots(cpus: list[int], sides: int, threads: int) -> list[set[int]] | None:
    """``sides`` disjoint slots of ``threads`` CPUs each, from ``cpus`` in order; None if they do not fit."""
    if sides * threads > len(cpus):
        return None
    return [set(cpus[i * threads:(i + 1) * threads]) for i in range(sides)]


def slot_of(side: int, tick: int, offset: int, n: int) -> int:
    """The slot side ``side`` holds at ``tick`` in a pair started at ``offset`` (each side a different slot)."""
    return (side + tick + offset) % n


class Placement:
    """Keeps each registered side's process tree on its slot; with ``period_s`` the slots rotate.

    Use as a context manager around one pair; ``add(side, pid)`` right after a side's process starts.
    """

    def __init__(self, cpu_slots: list[set[int]], period_s: float | None, offset: int = 0):
        self._slots, self._period, self._offset = cpu_slots, period_s, offset
        self._roots: dict[int, int] = {}  # pid -> side index
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-placement", daemon=True)
        self.tick = 0
        self.moves = 0  # sched_setaffinity calls that took effect

    def __enter__(self) -> Placement:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def add(self, side: int, pid: int) -> None:
        """Place the tree of ``pid`` (side ``side``) now and keep it placed until ``remove``."""
        with self._lock:
            self._roots[pid] = side
            self._place(pid, side)

    def remove(self, pid: int) -> None:
        with self._lock:
            self._roots.pop(pid, None)

    def step(self) -> None:
        """One tick: with a period, the slots rotate; every registered tree is placed again, the sides in
        an order that rotates every tick. While one side has moved and the other not yet, both share one
        CPU; in a fixed order the same side would always be the one that waits (a launch bias that
        read +0.4% of total.wall_s over 134 A/A pairs, docs/measurements.md, "Launch bias")."""
        with self._lock:
            if self._period:
                self.tick += 1
            parents = _parents()  # one scan of /proc for every tree
            roots = list(self._roots.items())
            k = self.tick % len(roots) if roots else 0
            for pid, side in roots[k:] + roots[:k]:
                self._place(pid, side, parents)

    def _loop(self) -> None:
        while not self._stop.wait(self._period or REFRESH_S):
            self.step()

    def _place(self, root: int, side: int, parents: dict[int, int] | None = None) -> None:
        mask = self._slots[slot_of(side, self.tick, self._offset, len(self._slots))]
        for pid in tree(root, _parents() if parents is None else parents):
            for tid in _threads(pid):
                try:
                    os.sched_setaffinity(tid, mask)
                    self.moves += 1
                except OSError:  # the thread ended meanwhile
                    pass


def _parents() -> dict[int, int]:
    """{pid: parent pid} of every process (one read of each /proc/PID/stat)."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    out[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # ended meanwhile
                pass
    return out


def tree(root: int, parents: dict[int, int]) -> list[int]:
    """``root`` and its descendants, from a {pid: parent pid} map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root] if root in parents else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def supported() -> bool:
    """Whether this platform lets a process set another thread's CPU affinity (Linux)."""
    return hasattr(os, "sched_setaffinity") and os.path.isdir(f"/proc/{os.getpid()}/task")

