"""`t4rec-bench report [RUN.json ...]`: the HTML performance report and its markdown summary.

Reads run records (default: the newest in the history folder), the baseline and the history
folder; writes one self-contained HTML file and ``summary.md`` beside it. Measures nothing.
Exit codes: 0 report written; 2 unreadable input (a record, the baseline) or no record at all.
The verdict's own exit code is `t4rec-bench compare`'s and `check`'s business.
"""

from __future__ import annotations

from harness.commands._common import (
    DEFAULT_HISTORY,  # reports/history, or $T4REC_BENCH_HISTORY as for the other commands
)

DEFAULT_OUT = "reports/index.html"


def add_parser(subparsers):
    from harness.commands.compare import add_baseline_options

    p = subparsers.add_parser(
        "report", help="write the HTML performance report (and a markdown summary) from run records",
        description="Write one self-contained HTML report (no scripts, no network; opens from file://) for "
                    "RUN.json, judged against its baseline, with the history's trends, plus summary.md "
                    "beside it. Several RUN files of one workload are pooled as repetitions.")
    p.add_argument("runs", nargs="*", metavar="RUN.json",
                   help="run records to report on (default: the newest record in --history)")
    add_baseline_options(p)
    p.add_argument("--history", metavar="DIR", default=DEFAULT_HISTORY,
                   help=f"folder of run records for the trends (default: {DEFAULT_HISTORY})")
    p.add_argument("-o", "--output", metavar="PATH", default=DEFAULT_OUT,
                   help=f"HTML file to write (default: {DEFAULT_OUT}); summary.md goes beside it")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from pathlib import Path

    from harness.output.report import SUMMARY_NAME, build_from_files

    out = build_from_files(args.output, args.runs, history_dir=args.history, baseline_path=args.baseline,
                           machine=args.machine, policies_path=args.policies)
    print(f"summary: {Path(out).with_name(SUMMARY_NAME)}")
    print(f"report: {Path(out).resolve()}")
    return 0
