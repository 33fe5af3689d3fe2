"""`t4rec-bench sweep`: the cost curve. Runs a profile at several sizes (and dask worker counts),
prints per size the wall time per stage, throughput and peak memory, and the fitted growth
exponent k (time ∝ rows^k) per stage; writes a sweep file (harness.documents.sweep) and keeps every run record."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from harness.commands import _common
from harness.config import growing_stages
from harness.errors import EXIT_RUN_FAILED, HarnessError

DEFAULT_DIR = Path("reports/sweep")
STAGES = growing_stages()  # the table's columns: what a sweep of sizes changes
RATES = (("etl.rows_per_s", "etl rows/s"), ("train.samples_per_s", "train samples/s"))


def size_list(text: str) -> list[int]:
    return [_common.positive_int(t) for t in text.split(",") if t.strip()]


def worker_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of worker counts like 0,1,2") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts are 0 (in-process) or more")
    return values


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="the cost curve: run a profile at several sizes, fit time ∝ rows^k",
                              description="Run a profile at several row counts (and dask worker counts); "
                              "print wall time per stage, throughput, peak memory and the growth exponent "
                              "per stage; write a sweep file and keep every run record.")
    p.add_argument("--profile", help="named workload from harness/profiles.toml (e.g. scale); needed with --rows")
    p.add_argument("--rows", dest="sizes", type=size_list, help="sizes, e.g. 1e5,1e6,1e7")
    p.add_argument("--workers", type=worker_list, help="dask workers per point: 0 in-process, N a local:N "
                   "cluster (e.g. 0,2); default: the profile's")
    p.add_argument("--nproc", type=_common.positive_int, help="DDP world size for every point")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int)
    p.add_argument("--stage-timeout", type=float, metavar="S", help="watchdog: fail a stage that runs longer")
    p.add_argument("--set", dest="overrides", action="append", type=_common.key_value, default=[],
                   metavar="KEY=VALUE", help="override any config field (repeatable)")
    p.add_argument("--out", type=Path, help="sweep file (default: reports/sweep/sweep-PROFILE-TIME.json); "
                   "run records go beside it in a folder named after it")
    p.add_argument("--from-records", nargs="+", type=Path, metavar="RECORD",
                   help="build the sweep from these run records instead of running anything")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.documents import sweep as sweep_file
    from harness.run import sweep

    if bool(args.sizes) == bool(args.from_records):
        raise HarnessError("give either --rows (to run) or --from-records (to refit), not both or neither")
    if args.sizes and not args.profile:
        raise HarnessError("--rows needs --profile (e.g. --profile scale)")
    stem = f"sweep-{args.profile or 'records'}-{dt.datetime.now():%Y%m%dT%H%M%S}"
    out = args.out or DEFAULT_DIR / f"{stem}.json"
    if args.from_records:
        points = sweep.points_from_records(args.from_records)
    else:
        points = _run(args, out)
    doc = sweep.summarize(points, " ".join(["t4rec-bench", *sys.argv[1:]]))
    path = sweep_file.write(doc, out)
    print(render(doc))
    print(f"sweep: {path}")
    return 0 if all(p["status"] == "ok" for p in points) else EXIT_RUN_FAILED


def _run(args, out: Path) -> list[dict]:
    from harness.output.progress import Progress
    from harness.run import sweep

    overrides = _common.overrides_from(args)
    records_dir = out.parent / out.stem
    return sweep.run_sweep(args.profile, args.sizes, args.workers, overrides, records_dir,
                           progress=Progress(enabled=not args.quiet),
                           on_point=lambda p: print(_point_line(p), flush=True))


# ---------------------------------------------------------------- text


def render(doc: dict) -> str:
    return "\n".join([points_table(doc["points"]), "", fits_table(doc["fits"]), *speedup_lines(doc["speedups"])])


def points_table(points: list[dict]) -> str:
    head = f"{'rows':>12}  {'engine':<20} {'status':<7}" + "".join(f"{s:>10}" for s in STAGES)
    head += "".join(f"{label:>17}" for _, label in RATES) + f"{'peak RSS':>11}"
    return "\n".join(["wall time per stage (s), throughput, peak RSS", head,
                      *(_point_line(p) for p in points)])


def _point_line(p: dict) -> str:
    from harness.output.formatters import value

    line = f"{p['rows']:>12,}  {p['engine']:<20} {p['status']:<7}"
    line += "".join(f"{value(p['wall_s'].get(s), 's', digits=1):>10}" for s in STAGES)
    line += "".join(f"{value(p['throughput'].get(name), name, digits=0):>17}" for name, _ in RATES)
    peak = p["peak_rss_bytes"].get("total")
    return line + f"{(f'{peak / 2**20:,.0f} MiB' if peak else '-'):>11}"


def fits_table(fits: list[dict]) -> str:
    if not fits:
        return "growth exponents: none (needs two sizes that ran ok)"
    lines = ["growth exponent k per stage: wall time ∝ rows^k (and peak RSS ∝ rows^k), least squares on "
             "log-log; every stage's peak RSS is in the sweep file"]
    lines.append(f"{'engine':<20} {'quantity':<15} {'stage':<11}{'k':>7}  {'95% CI':<17}{'R²':>7}{'points':>8}")
    for f in (f for f in fits if f["quantity"] == "wall_s" or f["stage"] == "total"):
        ci = f"[{f['k_ci95'][0]:.2f}, {f['k_ci95'][1]:.2f}]" if f["k_ci95"] else "-"
        r2 = f"{f['r2']:.3f}" if f["r2"] is not None else "-"
        lines.append(f"{f['engine']:<20} {f['quantity']:<15} {f['stage']:<11}{f['k']:>7.2f}  {ci:<17}{r2:>7}"
                     f"{f['n_points']:>8}")
    return "\n".join(lines)


def speedup_lines(speedups: list[dict]) -> list[str]:
    return [f"{s['stage']} on {s['engine']} vs {s['baseline_engine']} at {s['rows']:,} rows: "
            f"{s['speedup']:.2f}x as fast" for s in speedups]
