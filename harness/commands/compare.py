"""`t4rec-bench compare RUN.json`: judge a run record against its baseline.

Exit codes (harness/errors.py, README "Exit codes"): 0 ok or improved; 1 regressed; 2 harness error;
3 no comparable baseline (none recorded, or the workload differs); 4 the run failed; 6 undecided (0 with
[gate] on_undecided = "pass").
"""

from __future__ import annotations

FORMATS = ("table", "markdown", "json")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "compare", help="compare a run record with its baseline and give a verdict",
        description="Compare RUN.json with the baseline for its profile and machine class "
                    "(baselines/<machine>/<profile>.json unless --baseline is given).")
    p.add_argument("run", metavar="RUN.json", help="a run record written by `t4rec-bench run`")
    add_baseline_options(p)
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output", metavar="FILE", help="write the output here (atomically) instead of stdout; "
                                                    "the table still goes to stdout")
    p.set_defaults(func=main)
    return p


def add_baseline_options(p) -> None:
    """--baseline, --machine and --policies, shared with `check`."""
    p.add_argument("--baseline", metavar="PATH", help="baseline file (default: baselines/<machine>/<profile>.json)")
    p.add_argument("--machine", metavar="NAME", help="machine class of the baseline (default: the run's)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")


def baseline_path(args, profile: str, machine: str | None):
    """--baseline, else baselines/<--machine or ``machine``>/<profile>.json."""
    from pathlib import Path

    from harness.documents import baseline

    if args.baseline:
        return Path(args.baseline)
    return baseline.default_path(profile, args.machine or machine)


def render(verdict, fmt: str) -> str:
    from harness.output import formatters

    return {"table": formatters.table, "markdown": formatters.markdown, "json": formatters.to_json}[fmt](verdict)


def main(args) -> int:
    from harness.documents import atomic, record
    from harness.judge.decide import verdict_of
    from harness.output import formatters

    run = record.load(args.run)
    baseline_file = baseline_path(args, run["profile"], run["environment"].get("machine_class"))
    verdict = verdict_of(run, baseline_file, args.policies)
    text = render(verdict, args.format)
    if args.output:
        atomic.write_text(args.output, text)
        print(formatters.table(verdict), end="")
        print(f"wrote {args.format} verdict to {args.output}")
    else:
        print(text, end="")
    return verdict.exit_code
