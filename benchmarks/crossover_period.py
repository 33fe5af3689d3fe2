"""How often should a crossover pair trade CPUs? A/A crossover pairs at several periods, in one sitting.

    .venv/bin/python benchmarks/crossover_period.py --periods 0.1,0.25,1.0 --pairs 6

Runs PAIRS A/A pairs of the working tree against REV (default HEAD) in mode "crossover" for each period,
the periods taking turns in blocks of two pairs (harness/pairing/reference.py::interleaved with ``period_s``),
and prints per period the sd of a pair's log ratio of every gated time (harness/judge/gate_errors.py
::noise, as `calibrate --mode` does), the A/A mean, the seconds per pair and the parent's share of a CPU
(harness/measure/host.py). The gate's period is [gate] crossover_period_s in harness/policies.toml.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    from harness.config import build_config
    from harness.judge import gate_errors as seqcal
    from harness.judge import policy
    from harness.measure import host
    from harness.pairing import reference

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="ci")
    p.add_argument("--reference", default="HEAD")
    p.add_argument("--periods", default="0.1,0.25,1.0", help="comma-separated seconds")
    p.add_argument("--pairs", type=int, default=6, help="pairs per period")
    args = p.parse_args(argv)
    periods = [float(x) for x in args.periods.split(",")]
    config = build_config(args.profile, {"device": "cpu"})
    policies = policy.load(None)
    pools = {x: ([], [], [], []) for x in periods}  # current, reference, seconds, host per pair
    with tempfile.TemporaryDirectory() as tmp:
        arms = [reference.Arm("reference", reference.checkout(args.reference, Path(tmp) / "code"), sys.executable)]
        for done in range(0, args.pairs, 2):
            for x in periods:
                cur, ref, secs, hosts = pools[x]
                block = min(2, args.pairs - done)
                t0 = time.perf_counter()
                c, by_arm, dropped = reference.interleaved(config, block, arms, mode="crossover", period_s=x,
                                                           pairs_log=hosts)
                if dropped or any(r["status"] != "ok" for r in c):
                    raise SystemExit(f"error: {dropped or 'an A/A run failed'}")
                cur += c
                ref += by_arm["reference"]
                secs.append((time.perf_counter() - t0) / block)
                print(f"period {x:g} s: {len(cur)} pairs", file=sys.stderr, flush=True)
    for x, (cur, ref, secs, hosts) in pools.items():
        rows = seqcal.noise(seqcal.pooled(cur), seqcal.pooled(ref), policies)
        print(f"period {x:g} s: {len(cur)} pairs, {sum(secs) / len(secs):.1f} s per pair; "
              f"{host.words(host.summary(hosts))}")
        for r in rows:
            print(f"  {r['name']:28} pair sd {r['sd_pct']:6.2f}%  mean {r['mean_pct']:+6.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
