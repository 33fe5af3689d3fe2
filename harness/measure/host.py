"""What else used the host's CPUs while a pair ran.

A pair's two sides are this process's children: once both have been reaped, ``os.times()`` counts
all their CPU time, their own children included. The host's busy time (``/proc/stat``: user, nice,
system, irq, softirq over all CPUs) less that and less this process's own CPU time is what every other
process on the machine used. Steal is the time the hypervisor gave our virtual CPUs to someone else.
Reading both costs two small files a pair; nothing samples while the sides run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

BUSY_FIELDS = (0, 1, 2, 5, 6)  # user (guest included), nice, system, irq, softirq of /proc/stat's cpu line
STEAL_FIELD = 7


@dataclass(frozen=True)
class Snapshot:
    t_s: float  # monotonic clock
    busy_s: float | None  # all CPUs' busy time since boot (None where /proc/stat is missing)
    steal_s: float | None
    self_s: float  # this process's own user + system time, all threads
    children_s: float  # its reaped children's (and their reaped children's) user + system time
    load1: float | None  # 1-minute load average at the snapshot


def parse_stat(text: str, hz: float) -> tuple[float, float]:
    """(busy seconds, steal seconds) of /proc/stat's aggregate ``cpu`` line, at ``hz`` ticks a second."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(x) for x in line.split()[1:]]
            steal = ticks[STEAL_FIELD] if len(ticks) > STEAL_FIELD else 0
            return sum(ticks[i] for i in BUSY_FIELDS if i < len(ticks)) / hz, steal / hz
    raise ValueError("no aggregate cpu line")


def snapshot(clock=time.monotonic) -> Snapshot:
    """The host's and this process's CPU counters now."""
    t = os.times()
    busy = steal = load1 = None
    try:
        with open("/proc/stat") as f:
            busy, steal = parse_stat(f.read(), os.sysconf("SC_CLK_TCK"))
        load1 = os.getloadavg()[0]
    except (OSError, ValueError):
        pass
    return Snapshot(clock(), busy, steal, t.user + t.system, t.children_user + t.children_system, load1)


def between(a: Snapshot, b: Snapshot) -> dict:
    """What the host's CPUs did from ``a`` to ``b``, in CPU seconds and in percent of one CPU over the
    interval: ``sides_cpu_s`` (this process's children reaped in between: the pair's two sides),
    ``parent_cpu_s`` (this process), ``others_cpu_s`` (everything else; None without /proc/stat),
    ``steal_s``, and the 1-minute load average at the end."""
    seconds = max(b.t_s - a.t_s, 1e-9)
    sides, parent = b.children_s - a.children_s, b.self_s - a.self_s
    out = {"seconds": round(seconds, 3), "sides_cpu_s": round(sides, 3), "parent_cpu_s": round(parent, 3),
           "others_cpu_s": None, "steal_s": None, "load1": b.load1}
    # busy_s and steal_s are read together (parse_stat): both known or both None
    if a.busy_s is not None and b.busy_s is not None and a.steal_s is not None and b.steal_s is not None:
        # clock ticks and process times are counted apart: a small negative remainder is rounding
        out["others_cpu_s"] = round(max(0.0, b.busy_s - a.busy_s - sides - parent), 3)
        out["steal_s"] = round(b.steal_s - a.steal_s, 3)
    for key, pct in (("parent_cpu_s", "parent_pct"), ("others_cpu_s", "others_pct"), ("steal_s", "steal_pct")):
        cpu_s = out[key]
        if cpu_s is not None:
            out[pct] = round(100 * cpu_s / seconds, 2)
    return out


def summary(pairs: list[dict]) -> dict | None:
    """Median and largest share of one CPU that others, steal and the parent took over ``pairs``
    (``between``'s dicts); None when there are none."""
    import statistics

    if not pairs:
        return None
    out: dict[str, int | dict[str, float]] = {"pairs": len(pairs)}
    for key in ("others_pct", "steal_pct", "parent_pct", "load1"):
        values = [p[key] for p in pairs if p.get(key) is not None]
        if values:
            out[key] = {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}
    return out


def words(s: dict | None) -> str:
    """The summary as one phrase: "host during the 7 pairs, median: other processes 3.1% of a CPU (max 40.0%), ..."."""
    if not s:
        return ""
    parts = []
    for key, label in (("others_pct", "other processes"), ("steal_pct", "steal"), ("parent_pct", "this check")):
        if key in s:
            parts.append(f"{label} {s[key]['median']:.1f}% of a CPU (max {s[key]['max']:.1f}%)")
    if "load1" in s:
        parts.append(f"load {s['load1']['median']:.2f} (max {s['load1']['max']:.2f})")
    return f"host during the {s['pairs']} pairs, median: " + ", ".join(parts)
