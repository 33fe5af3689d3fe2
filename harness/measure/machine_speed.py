"""The machine-speed probe: a fixed CPU workload timed before each repetition (a run record's
``machine_speed``).

The workload mixes what the pipeline spends its time on: BLAS matrix products (torch
training on CPU) and interpreted Python with small allocations (pandas/NVTabular ETL).
Dividing a stage time by this figure makes times from two machines of one class
comparable; harness.judge.compare uses it where the policy says so.
"""

from __future__ import annotations

import time


def _workload() -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((192, 192))
    acc = 0.0
    for _ in range(40):
        a = a @ a
        a /= np.abs(a).max()
    d: dict[int, int] = {}
    for i in range(100_000):
        d[i % 977] = d.get(i % 977, 0) + i
    return float(a[0, 0]) + acc + len(d)


def speed_s(reps: int = 3) -> float:
    """Seconds for the fixed workload: the minimum of ``reps`` timings (the least disturbed)."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        _workload()
        best = min(best, time.perf_counter() - t0)
    return best
