"""The differential profile's cost: the same profile run plain and under py-spy, interleaved, per stage.

    .venv/bin/python benchmarks/profile_overhead.py --profile ci --runs 5

Each round runs the current code twice through the same entry point (`python -m harness.cli run
... --out`, as a check's profiled pair does), once plain and once under `py-spy record --idle
--subprocesses` at [profile] rate_hz (harness/policies.toml), alternating which goes first. Prints the
median wall time per stage of each, and the overhead in percent per stage (the profiled median against
the plain one). `check` adds one such pair (both sides profiled) after its judged pairs when a time
measurement regresses or stays undecided: docs/usage.md quotes this script's output. Time it on a quiet
machine: the overhead is small beside a busy machine's noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO_DIR
from harness.config import build_config
from harness.judge import policy
from harness.judge import profile_diff
from harness.pairing import profile
from harness.pairing import reference


def one_run(config, spy, rate_hz: int | None, tmp: Path) -> dict[str, float]:
    """{stage: wall seconds, and "process": the whole process's} of one run, under py-spy when ``rate_hz``."""
    here, argv = reference.Reference("current", REPO_DIR), reference.run_argv(config, faults=True)
    timeout_s = reference.run_timeout_s(config)
    t0 = time.perf_counter()
    if rate_hz is None:
        rec = reference.run_once(here, argv, tmp, timeout_s)
    else:
        rec = profile.profiled_run("current", here, sys.executable, argv, spy, rate_hz, tmp, timeout_s)["record"]
    process_s = time.perf_counter() - t0
    if rec["status"] != "ok":
        raise SystemExit(f"error: the run failed: {rec['failure']}")
    return {**{s: v[0] for s, v in profile_diff.stage_walls(rec).items()}, "process": process_s}


def table(plain: list[dict], profiled: list[dict]) -> str:
    """Median wall per stage, plain and profiled, and the overhead in percent."""
    lines = [f"{'stage':<12} {'plain s':>9} {'py-spy s':>9} {'overhead':>9}"]
    for stage in plain[0]:
        a = statistics.median(r[stage] for r in plain)
        b = statistics.median(r[stage] for r in profiled if stage in r)
        pct = f"{100 * (b / a - 1):+.1f}%" if a > 0 else "-"
        lines.append(f"{stage:<12} {a:>9.3f} {b:>9.3f} {pct:>9}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="ci", help="the workload (harness/profiles.toml)")
    p.add_argument("--runs", type=int, default=5, help="runs of each kind")
    p.add_argument("--rate-hz", type=int, help="py-spy's rate (default: [profile] rate_hz)")
    args = p.parse_args(argv)
    spy = profile.py_spy()
    if isinstance(spy, str):
        raise SystemExit(f"error: {spy}")
    rate = args.rate_hz or policy.profile_settings().rate_hz
    config, plain, profiled = build_config(args.profile), [], []
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-profile-overhead-") as tmp:
        for i in range(args.runs):
            for kind in (("plain", "py-spy") if i % 2 == 0 else ("py-spy", "plain")):
                walls = one_run(config, spy, None if kind == "plain" else rate, Path(tmp))
                (plain if kind == "plain" else profiled).append(walls)
                print(f"run {i + 1} {kind}: {walls['process']:.2f} s", flush=True)
    print(f"\n{args.profile}, {args.runs} runs of each, py-spy at {rate} Hz (medians):")
    print(table(plain, profiled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
