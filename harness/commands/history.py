"""``t4rec-bench history``: change points in the measurement histories, with their commit ranges.

Reads the harness's history folder (run records) and asv's results folder, finds where each
series stepped to a new level (harness.judge.changepoints) and prints one line per change point.
Exit code 1 when a regression is still in effect at the newest point of its series, else 0;
2 for bad input or when there is no history at all.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

from harness.commands._common import DEFAULT_HISTORY
from harness.errors import EXIT_OK, EXIT_REGRESSED, HarnessError

DEFAULT_ASV_RESULTS = "reports/asv/results"
DEFAULT_ASV_CONFIG = "asv.conf.json"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "history", help="list change points (metric, step, commit range) in the run history and asv results",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metric", metavar="M", help="only series whose name is M, contains M, or matches the glob M "
                   "(etl.wall_s, 'train.*', StageTime)")
    p.add_argument("--history", metavar="DIR", default=DEFAULT_HISTORY,
                   help=f"folder of run records (default {DEFAULT_HISTORY})")
    p.add_argument("--asv-results", metavar="DIR", default=DEFAULT_ASV_RESULTS,
                   help=f"asv results folder (default {DEFAULT_ASV_RESULTS})")
    p.add_argument("--asv-config", metavar="PATH", default=DEFAULT_ASV_CONFIG,
                   help="asv.conf.json for regressions_thresholds and the repository whose history orders "
                        f"the commits (default {DEFAULT_ASV_CONFIG}, if present; else the working directory)")
    p.add_argument("--source", choices=("all", "history", "asv"), default="all", help="which histories to read")
    p.add_argument("--method", choices=("potts", "asv"), default="potts",
                   help="potts: noise-scaled step detection (default); asv: exactly asv publish's detect_steps")
    p.add_argument("--threshold-pct", type=float, metavar="P",
                   help="report steps of at least P percent (default: per measurement, from policies.toml "
                        "and asv.conf.json)")
    p.add_argument("--json", action="store_true", help="print the change points as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.judge import changepoints

    series, skipped = _collect(args)
    for path, why in skipped:
        print(f"warning: skipped {path}: {why}", file=sys.stderr)
    if not series:
        raise HarnessError(f"no history to analyse: no run records in {args.history} and no asv results in "
                           f"{args.asv_results} (run `t4rec-bench nightly` first)")
    series = _select(series, args.metric)
    found = changepoints.detect_all(series, args.method, args.threshold_pct)
    print(to_json(found) if args.json else table(found, len(series), args.method))
    in_effect = any(c.latest and c.direction == "regressed" for c in found)
    return EXIT_REGRESSED if in_effect else EXIT_OK


def _collect(args):
    from harness import vcs
    from harness.judge import history

    series, skipped = [], []
    thresholds, repo = _asv_settings(Path(args.asv_config))
    order = vcs.order(repo)
    if args.source in ("all", "history"):
        loaded = history.load_records(args.history)
        series += history.record_series(history.in_commit_order(loaded.records, order))
        skipped += loaded.skipped
    if args.source in ("all", "asv"):
        found, bad = history.asv_series(args.asv_results, thresholds, order)
        series += found
        skipped += bad
    return series, skipped


def _asv_settings(config: Path) -> tuple[dict, Path]:
    """regressions_thresholds and the repository from asv.conf.json; without one, none and the
    working directory (whose git history orders the commits)."""
    from harness.documents import asv_config

    if not config.is_file():
        return {}, Path(".")
    conf = asv_config.read(config)
    return conf.get("regressions_thresholds", {}), config.parent / conf.get("repo", ".")


def _select(series: list, pattern: str | None) -> list:
    if not pattern:
        return series
    glob = any(ch in pattern for ch in "*?[")
    chosen = [s for s in series if (fnmatch.fnmatchcase(s.metric, pattern) if glob else pattern in s.metric)]
    if chosen:
        return chosen
    import difflib

    names = sorted({s.metric for s in series})
    close = difflib.get_close_matches(pattern, names, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise HarnessError(f"--metric {pattern!r} matches no series{hint}; {len(names)} series exist")


def table(found: list, n_series: int, method: str) -> str:
    """The change points as an aligned text table, regressions still in effect first."""
    from harness.output.formatters import value

    header = ("metric", "context", "step", "before -> after", "commits", "verdict")
    rows = [(c.metric, c.context, f"{c.step_pct:+.1f}%",
             f"{value(c.before, c.unit, 'series')} -> {value(c.after, c.unit, 'series')}",
             c.commit_range, c.direction + (" (in effect)" if c.latest else "")) for c in found]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    in_effect = sum(c.latest and c.direction == "regressed" for c in found)
    summary = (f"{len(found)} change point(s) in {n_series} series ({method} step detection); "
               f"{in_effect} regression(s) still in effect. Commits a..b: the change lies after a, up to b.")
    return "\n".join(lines if rows else ["no change points"]) + "\n" + summary


def to_json(found: list) -> str:
    """The change points as a JSON list; a step from zero (infinite percent) has step_pct null."""
    import dataclasses
    import math

    rows = [dataclasses.asdict(c) | {"commit_range": c.commit_range} for c in found]
    for row in rows:
        row["step_pct"] = row["step_pct"] if math.isfinite(row["step_pct"]) else None
    return json.dumps(rows, indent=1, allow_nan=False)
