"""`t4rec-bench check --profile ci`: run the pipeline, compare with the baseline, exit with the verdict.

Runs the profile in pairs with the baseline's commit (the in-session reference,
harness/pairing/reference.py; --reference) in the [gate] mode of harness/policies.toml, judging after
each pair until the sequential gate decides (--repeat pairs, more while more could decide),
appends the run record to the history folder (the reference's to <history>/reference/), writes
the verdict as JSON (and markdown if asked), prints the verdict table, and builds
reports/index.html through harness.output.report.
Exit codes (harness/errors.py, README "Exit codes"): 0 ok or improved; 1 regressed; 2 harness error or
bad input; 3 no comparable baseline; 4 the run failed; 6 undecided (0 with [gate] on_undecided = "pass").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.commands import _common
from harness.documents.record_types import RunRecord
from harness.judge.policy import MODES

VERDICT_OUT = "reports/verdict.json"
REPORT_OUT = "reports/index.html"
REPORT_URL_ENV = "T4REC_BENCH_REPORT_URL"
FORMATS = ("table", "github")


def add_parser(subparsers):
    from harness.commands.compare import add_baseline_options

    p = subparsers.add_parser(
        "check", help="run a profile, compare it with its baseline, exit with the verdict's code",
        description="Run PROFILE, append the record to the history, compare it with the baseline for this "
                    "machine class and exit 0 (ok), 1 (regressed), 2 (bad input), 3 (no baseline), 4 (run failed) or 6 "
                    "(undecided; [gate] on_undecided in harness/policies.toml).")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--repeat", type=_common.positive_int, metavar="N",
                   help="pairs with the reference (default: [gate] repeat in harness/policies.toml); the gate "
                        "stops earlier once decided, and goes on to [gate] max_pairs while more pairs could decide")
    p.add_argument("--mode", choices=MODES,
                   help="how a pair's two sides run: at once, trading CPUs every [gate] crossover_period_s "
                        "(crossover), one CPU each (pinned) or unplaced (duet); or one after the other "
                        "(alternating). Default: [gate] mode in harness/policies.toml")
    p.add_argument("--no-early-stop", action="store_true",
                   help="run all --repeat pairs and judge them once (the sequential gate looks after every pair)")
    add_baseline_options(p)
    p.add_argument("--reference", default="auto", metavar="REV",
                   help="re-run this git commit in the same session, in pairs with the current runs (--mode), and "
                        "judge times against it, so the machine's drift between sessions cancels (auto: the "
                        "stored baseline's commit, the default; none: judge times against the stored baseline "
                        "with its cross-session threshold, half the runs)")
    p.add_argument("--reference-env", default="auto", metavar="ENV",
                   help="where the reference runs: auto (the default: the baseline's environment; this one when "
                        "its installed distributions match the baseline's record, else one built from the "
                        "commit's own install files and cached, see docs/usage.md, 'The reference environment'), "
                        "current (this environment), or the path of a python interpreter")
    p.add_argument("--verdict-out", default=VERDICT_OUT, metavar="PATH",
                   help="verdict JSON for machines (default: %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="what to print: the verdict table (table), or the markdown of a pull-request comment "
                        "(github; the other lines then go to stderr). Default: %(default)s")
    p.add_argument("--markdown-out", metavar="PATH",
                   help="also write the pull-request markdown (the github format) to PATH, for a PR comment or "
                        "a CI job summary")
    p.add_argument("--report-url", metavar="URL", default=os.environ.get(REPORT_URL_ENV),
                   help=f"where the markdown links to the HTML report, e.g. the CI run's artefacts (default: "
                        f"${REPORT_URL_ENV}, else {REPORT_OUT})")
    p.add_argument("--profile-on-regression", choices=("on", "off"), default="on",
                   help="on a time regression or an undecided time, run one more pair under py-spy (not judged) "
                        "and add the functions whose self time moved to the verdict, their stacks beside it "
                        "([profile] in harness/policies.toml; docs/usage.md). Default: %(default)s")
    p.add_argument("--history", default=_common.DEFAULT_HISTORY, metavar="DIR",
                   help="history folder; the record is added, never overwritten (default: %(default)s)")
    p.add_argument("--no-report", action="store_true", help=f"do not build {REPORT_OUT}")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)
    return p


def run_config(config, repeat: int, quiet: bool) -> RunRecord:
    """Run ``config`` through harness.run.runner; the merged record (status ok or failed)."""
    from harness.output.progress import Progress
    from harness.run import runner

    return runner.run(config, repeat=repeat, progress=Progress(enabled=not quiet))


def main(args) -> int:
    from harness.commands.compare import baseline_path
    from harness.documents import atomic, record
    from harness.judge import policy
    from harness.output import formatters
    from harness.output.progress import Progress
    from harness.pairing import gate
    from harness.run import runner

    repeat = args.repeat or policy.load(args.policies).gate.repeat
    config = _common.config_from_args(args)
    path = baseline_path(args, config.profile, runner.machine_class(config))
    outcome = gate.run(config, repeat, path, args.policies, args.reference, progress=Progress(enabled=not args.quiet),
                       reference_env=args.reference_env, mode=args.mode, sequential=not args.no_early_stop,
                       profile_to=Path(args.verdict_out).parent if args.profile_on_regression == "on" else None)
    rec, verdict = outcome.record, outcome.verdict
    saved = record.append_history(rec, args.history)
    for arm in (outcome.reference_record, outcome.cross_record, outcome.partner_record):
        if arm:
            record.append_history(arm, Path(args.history) / "reference")
    atomic.write_text(args.verdict_out, formatters.to_json(verdict))
    pr_text = _pr_markdown(args, verdict) if args.markdown_out or args.format == "github" else ""
    if args.markdown_out:
        atomic.write_text(args.markdown_out, pr_text)
    print(pr_text if args.format == "github" else formatters.table(verdict), end="")
    side = sys.stderr if args.format == "github" else sys.stdout
    print(f"run record: {saved}\nverdict: {args.verdict_out}", file=side)
    if not args.no_report:
        _report(rec, verdict, args.history, outcome.reference_record, Path(args.verdict_out).parent, args.policies,
                side)
    return verdict.exit_code


def _pr_markdown(args, verdict) -> str:
    """The github format (harness/output/pr_comment.py), linking to the report unless --no-report."""
    from harness.judge import policy
    from harness.output import formatters

    url = None if args.no_report else (args.report_url or REPORT_OUT)
    return formatters.markdown(verdict, primary=policy.load(args.policies).gate.primary, report_url=url)


def _report(rec: RunRecord, verdict, history_dir, reference_record: RunRecord | None = None, verdict_dir=None,
            policies=None, out=None) -> None:
    """Build reports/index.html (and summary.md); a report failure never changes the exit code.
    ``verdict_dir``: the verdict file's folder, which the profile's folded-stack paths are relative to."""
    from harness.output.report import build_from_files

    try:
        html = build_from_files(REPORT_OUT, [rec], history_dir=history_dir, verdict=verdict,
                                policies_path=policies, verdict_dir=verdict_dir)
    except Exception as exc:  # the gate's verdict stands even if the report fails
        print(f"warning: HTML report not built: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    print(f"report: {Path(html).resolve()}", file=out or sys.stdout)
