"""Instrumentation overhead: instrumented vs --no-instrument runs, as interleaved pairs.

    .venv/bin/python benchmarks/overhead.py --profile seed --pairs 5

Each pair runs the same profile twice in fresh worker processes, once instrumented and once
bare, alternating which goes first. Wall time is measured around the whole run (process start
to record), so samplers, the machine-speed probe and per-stage counters all count as overhead. Prints the
per-pair ratios and their median; exits 1 if the median overhead exceeds --limit-pct.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from harness.config import build_config
from harness.run import runner


def timed_run(config) -> float:
    t0 = time.perf_counter()
    rec = runner.run(config)
    wall = time.perf_counter() - t0
    if rec["status"] != "ok":
        raise SystemExit(f"error: run failed: {rec['failure']}")
    return wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="seed")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--limit-pct", type=float, default=2.0)
    args = p.parse_args(argv)
    on, off = build_config(args.profile), build_config(args.profile, {"instrument": False})
    ratios = []
    for i in range(args.pairs):
        order = [(on, "instrumented"), (off, "bare")] if i % 2 == 0 else [(off, "bare"), (on, "instrumented")]
        walls = {name: timed_run(cfg) for cfg, name in order}
        ratios.append(walls["instrumented"] / walls["bare"])
        print(f"pair {i + 1}: instrumented {walls['instrumented']:.2f} s  bare {walls['bare']:.2f} s  "
              f"ratio {ratios[-1]:.4f}", flush=True)
    overhead = (statistics.median(ratios) - 1) * 100
    print(f"median overhead over {args.pairs} pairs: {overhead:+.2f}% (limit {args.limit_pct}%)")
    return 0 if overhead <= args.limit_pct else 1


if __name__ == "__main__":
    sys.exit(main())
