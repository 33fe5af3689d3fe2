"""A/A checks through the gate while something else loads the CPUs.

    .venv/bin/python benchmarks/loaded_checks.py --checks 3 --load none,steady,intermittent
    .venv/bin/python benchmarks/loaded_checks.py --checks 2 --load none --set faults.slowdown_stage=train \
        --set faults.slowdown_fraction=0.05
    .venv/bin/python benchmarks/loaded_checks.py --checks 4 --load none --plants none,train=0.07,train=0.0465 \
        --out reports/calibration/real_checks.jsonl

Each check is `t4rec-bench check --profile PROFILE --reference REV --reference-env current` (harness/pairing/gate.py,
the policy's mode and stop rule), run while a CPU hog of this script's own runs at normal priority: "steady"
spins for the whole check, "intermittent" spins ON seconds and sleeps OFF seconds; "none" is the quiet
control. The loads take turns check by check, so every load sees the same hours of the host. The hog is a
child process that ends with its check, and in any case after --hog-limit seconds. Prints one line per
check (verdict, pairs, seconds, the pair sd of the primary, what else used the host) and a summary per
load: false regressions, undecided, and the median and largest time to a verdict. With --set faults.*
the current side carries a planted change (then "regressed" is the expected verdict); --plants takes
turns between planted slowdowns of a stage (STAGE=FRACTION: faults.slowdown_stage and _fraction) and
"none". --out appends one JSON line per check, with the date, the host's CPU model and the commit, so
real checks accumulate across sessions and hosts (independent trials of the whole gate),
and every gated time's pairs, from which --bias-from pools the A/A launch bias:

    .venv/bin/python benchmarks/loaded_checks.py --bias-from baselines/cpu-2c-x86_64/real-checks.jsonl
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

HOG = ("import sys, time\n"
       "on, off, limit = (float(x) for x in sys.argv[1:4]); end = time.monotonic() + limit\n"
       "while time.monotonic() < end:\n"
       "    t = time.monotonic() + on\n"
       "    while time.monotonic() < t: pass\n"
       "    time.sleep(off)\n")


def one_check(args, load: str, plant: str = "none") -> dict:
    from harness.config import build_config
    from harness.documents import baseline
    from harness.judge import policy
    from harness.output.progress import Progress
    from harness.run import runner
    from harness.pairing import aa_runs as calibration_runs
    from harness.pairing import gate

    faults = {} if plant == "none" else {"faults.slowdown_stage": plant.split("=")[0],
                                         "faults.slowdown_fraction": float(plant.split("=")[1])}
    config = build_config(args.profile, {"device": "cpu", **dict(args.set), **faults})
    hog = None
    if load != "none":
        on, off = (3600.0, 0.0) if load == "steady" else (args.on, args.off)
        hog = subprocess.Popen([sys.executable, "-c", HOG, str(on), str(off), str(args.hog_limit)])
    t0 = time.perf_counter()
    try:
        o = gate.run(config, policy.load(None).gate.repeat, baseline.default_path(config.profile,
                     runner.machine_class(config)), None, args.reference, progress=Progress(enabled=False),
                     reference_env="current")
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return calibration_runs.check_row(o, time.perf_counter() - t0, policy.load(None).gate.primary, plant, load,
                                      dict(args.set), config.faults.slowdown_kind)


def bias_lines(rows: list[dict]) -> list[str]:
    """The A/A launch bias: per measurement, the mean of the pairs' log ratio (current over reference) over
    every pair of the A/A checks in ``rows`` (plant none, no load), with its 95% interval (paired t)."""
    from harness.judge import stats

    aa = [r for r in rows if r["plant"] == "none" and r["load"] == "none" and r.get("pairs_by_name")]
    names = sorted({n for r in aa for n in r["pairs_by_name"]})
    out = [f"A/A launch bias over {len(aa)} checks ({', '.join(sorted({r['date'][:10] for r in aa}))}), "
           f"launch: {sorted({r.get('launch') or '-' for r in aa})}"]
    for n in names:
        pairs = [p for r in aa for p in r["pairs_by_name"].get(n, [])]
        test = stats.paired_log_ratio_test([p[0] for p in pairs], [p[1] for p in pairs])
        if test is None:
            continue
        low, high = stats.ratio_bounds(test, 0.025)
        out.append(f"  {n}: {len(pairs)} pairs, bias {100 * math.expm1(test.log_ratio):+.2f}% "
                   f"(95% [{100 * (low - 1):+.2f}%, {100 * (high - 1):+.2f}%]), pair sd "
                   f"{100 * test.sd_log * math.sqrt(2):.2f}%")
    return out


def main(argv=None) -> int:
    from harness.commands import _common
    from harness.documents import real_checks
    from harness.measure import host

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="ci")
    p.add_argument("--reference", default="HEAD")
    p.add_argument("--checks", type=int, default=3, help="checks per load")
    p.add_argument("--load", default="none,steady,intermittent", help="comma-separated: none, steady, intermittent")
    p.add_argument("--on", type=float, default=5.0, help="intermittent: seconds spinning")
    p.add_argument("--off", type=float, default=5.0, help="intermittent: seconds asleep")
    p.add_argument("--hog-limit", type=float, default=1200.0, help="the hog ends after this many seconds anyway")
    p.add_argument("--set", action="append", default=[], type=_common.key_value, metavar="KEY=VALUE")
    p.add_argument("--plants", default="none", help="comma-separated: none or STAGE=FRACTION, taking turns")
    p.add_argument("--out", type=Path, help="JSON lines, one per check")
    p.add_argument("--bias-from", type=Path, metavar="JSONL",
                   help="run no check: print the A/A launch bias pooled over the A/A checks kept in JSONL "
                        "(--out's lines that carry pairs_by_name)")
    args = p.parse_args(argv)
    if args.bias_from:
        print("\n".join(bias_lines(real_checks.load(args.bias_from))))
        return 0
    loads = args.load.split(",")
    rows = []
    for i in range(args.checks):
        for load, plant in [(lo, pl) for lo in loads for pl in args.plants.split(",")]:
            r = one_check(args, load, plant)
            rows.append(r)
            sd = "-" if r["sd_pct"] is None else f"{r['sd_pct']:.2f}%"
            print(f"check {i + 1} load {load} plant {plant}: total {r['total_change_pct']:+.2f}%: {r['overall']} (exit {r['exit_code']}) after {r['pairs']} {r['mode']} "
                  f"pairs, {r['seconds']:.0f} s, pair sd of the primary {sd}; regressed {r['regressed'] or '-'}; "
                  f"{host.words(r['host'])}", flush=True)
            if args.out:
                real_checks.append(args.out, r)
    for load, plant in [(lo, pl) for lo in loads for pl in args.plants.split(",")]:
        mine = [r for r in rows if r["load"] == load and r["plant"] == plant]
        secs = [r["seconds"] for r in mine]
        sds = [r["sd_pct"] for r in mine if r["sd_pct"] is not None]
        print(f"{load}, plant {plant}: {len(mine)} checks, regressed {sum(r['overall'] == 'regressed' for r in mine)}, "
              f"undecided {sum(r['overall'] == 'undecided' for r in mine)}, time to a verdict median "
              f"{statistics.median(secs):.0f} s, max {max(secs):.0f} s; pair sd of the primary median "
              + (f"{statistics.median(sds):.2f}%" if sds else "-"))
    print("\n".join(bias_lines(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
