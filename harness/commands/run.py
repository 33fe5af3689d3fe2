"""`t4rec-bench run`: run a profile, write the run record, print a summary."""

from __future__ import annotations

from pathlib import Path

from harness.commands import _common
from harness.errors import EXIT_RUN_FAILED


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the pipeline and write a run record",
                              description="Run the instrumented pipeline for a profile and write one run record.")
    _common.add_workload_options(p)
    p.add_argument("--repeat", type=_common.positive_int, default=1, help="repetitions, each in a fresh process")
    p.add_argument("--out", type=Path, help="also write the record here (atomically)")
    p.add_argument("--history", type=Path, default=_common.DEFAULT_HISTORY,
                   help="history folder; records are added, never overwritten (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.documents import record
    from harness.output.progress import Progress
    from harness.output.summary import summary_table
    from harness.run import runner

    config = _common.config_from_args(args)
    rec = runner.run(config, repeat=args.repeat, progress=Progress(enabled=not args.quiet))
    written = [record.append_history(rec, args.history)]
    if args.out:
        written.append(record.write(rec, args.out))
    print(summary_table(rec))
    for path in written:
        print(f"record: {path}")
    return 0 if rec["status"] == "ok" else EXIT_RUN_FAILED
