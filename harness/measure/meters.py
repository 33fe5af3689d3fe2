"""Measurement that wraps stages from outside.

``RssSampler`` runs in the parent process and samples the worker's resident memory
(children included) on a thread: RSS, and its anonymous part (RSS minus file-backed and
shared pages: the heap, what the code allocates). File-backed pages of the shared libraries
depend on the checkout and the page cache, not on the code: the same commit measured 182 MiB
of them after `import torch, nvtabular, transformers4rec` in one clone and 321 MiB in a fresh
clone, with anonymous memory 300 MiB in both (/proc/self/status RssFile vs RssAnon).
``StageMeter`` runs in the worker around each stage call: wall and CPU time, and
CUDA-synchronized times and torch peak memory when CUDA is used; it reports through the
worker events of ``harness.measure.events``.
Neither changes what the stage computes.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

from harness.measure import events

RSS_INTERVAL_S = 0.05
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TREE_REFRESH_S = 1.0  # how often the sampler looks for new descendants (between, it reads the ones it knows)


def statm_memory(pid: int) -> tuple[int, int] | None:
    """(resident, anonymous resident) bytes of one process from /proc/PID/statm (what psutil's
    memory_info reads: resident and shared pages), or None when it is gone or there is no /proc."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            fields = f.read().split()
    except OSError:
        return None
    resident, shared = int(fields[1]) * PAGE_BYTES, int(fields[2]) * PAGE_BYTES
    return resident, resident - shared


def tree_pids(proc) -> list[int]:
    """``proc``'s pid and its descendants' (psutil.Process; one scan of the process table)."""
    import psutil

    try:
        return [proc.pid, *(p.pid for p in proc.children(recursive=True))]
    except psutil.Error:
        return []


def tree_memory(proc, pids: list[int] | None = None) -> tuple[int, int]:
    """(resident, anonymous resident) bytes of ``proc`` and all its descendants (psutil.Process), or of
    ``pids`` when the caller knows the tree already.

    Anonymous = RSS minus the shared/file-backed pages (/proc/PID/statm, as psutil's ``shared``);
    where the platform has no /proc it comes from psutil, and equals RSS where it reports no shared pages.
    """
    import psutil

    rss = anon = 0
    for pid in tree_pids(proc) if pids is None else pids:
        mem = statm_memory(pid)
        if mem is None:
            try:
                info = psutil.Process(pid).memory_info()
            except psutil.Error:
                continue
            mem = info.rss, info.rss - getattr(info, "shared", 0)
        rss += mem[0]
        anon += mem[1]
    return rss, anon


class RssSampler:
    """Samples the RSS of a process tree every ``interval_s`` on a daemon thread."""

    def __init__(self, pid: int, interval_s: float = RSS_INTERVAL_S, clock=time.monotonic):
        import psutil

        self._proc = psutil.Process(pid)
        self._interval = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.samples: list[tuple[float, int, int]] = []  # (time, rss, anon): one append per sample, thread-safe
        self._pids: list[int] | None = None  # the tree as last looked up, at _pids_at
        self._pids_at = 0.0

    @property
    def t(self) -> list[float]:
        return [s[0] for s in list(self.samples)]

    @property
    def rss(self) -> list[int]:
        return [s[1] for s in list(self.samples)]

    @property
    def anon(self) -> list[int]:
        return [s[2] for s in list(self.samples)]

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def sample(self) -> None:
        """One sample of the tree's memory. The tree itself (a scan of every process) is looked up every
        TREE_REFRESH_S only: between, the sampler reads the statm of the processes it knows."""
        t = self._clock()
        if self._pids is None or not 0 <= t - self._pids_at < TREE_REFRESH_S:
            self._pids, self._pids_at = tree_pids(self._proc), t
        self.samples.append((t, *tree_memory(self._proc, self._pids)))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def peak_between(self, t0: float, t1: float, anon: bool = False) -> int:
        """Largest RSS (``anon``: anonymous RSS) in [t0, t1]; the nearest sample when the window holds none."""
        samples = list(self.samples)
        window = [s[2] if anon else s[1] for s in samples if t0 <= s[0] <= t1]
        if window:
            return max(window)
        if not samples:
            return 0
        nearest = min(samples, key=lambda s: abs(s[0] - t1))
        return nearest[2] if anon else nearest[1]


def downsample(ts: list, values: list, max_points: int = 1500) -> tuple[list, list]:
    """At most ``max_points`` samples for a chart or a record's timeline: the series cut into
    ``max_points`` buckets of (nearly) equal length, keeping each bucket's highest value and its time,
    so peaks survive. Shorter series come back unchanged (as lists). The one downsampler: memory
    timelines (RSS, GPU) and the report's charts all use it."""
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    n = len(ts)
    if n <= max_points:
        return list(ts), list(values)
    step = n / max_points
    out_t, out_v = [], []
    for i in range(max_points):
        lo, hi = int(i * step), max(int((i + 1) * step), int(i * step) + 1)
        j = max(range(lo, min(hi, n)), key=lambda k: values[k])
        out_t.append(ts[j])
        out_v.append(values[j])
    return out_t, out_v


class StageMeter:
    """Times stages in the worker and reports each start and end through ``send`` (events.StageStart,
    events.StageEnd)."""

    def __init__(self, send, cuda_counters=None, clock=time.perf_counter, wall=time.time):
        import psutil

        self._send = send
        self._cuda = cuda_counters
        self._clock = clock
        self._wall = wall
        self._proc = psutil.Process()

    def _cpu(self) -> float:
        t = self._proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def note(self, text: str) -> None:
        """A plain statement about how the run ran (shown to the user, kept in the record)."""
        self._send(events.Note(text))

    @contextmanager
    def stage(self, name: str, **labels):
        """Measure the body as stage ``name``; yields a dict that receives ``wall_s`` at the end."""
        self._send(events.StageStart(name, self._wall(), labels))
        result: dict = {}
        if self._cuda:
            self._cuda.begin()
        cpu0, t0 = self._cpu(), self._clock()
        yield result
        if self._cuda:
            result.update(self._cuda.end())  # synchronizes before reading peaks
        result["wall_s"] = self._clock() - t0
        result["cpu_s"] = self._cpu() - cpu0
        self._send(events.StageEnd(name, self._wall(), dict(result)))
