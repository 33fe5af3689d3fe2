"""``t4rec-bench nightly``: the nightly sequence under airspeed velocity.

1. ``asv machine --yes --machine <machine class>``  (the harness's machine class, e.g. cpu-2c-x86_64)
2. ``asv run NEW`` (or ``--range``) in managed virtualenvs built with the Makefile's pins, or with
   ``--existing`` the current environment as commit ``--commit`` (how a GPU box in a container runs it).
   Besides the one pipeline run per profile (benchmarks/pipeline.py), the newest commit runs
   ``--pairs`` pairs with the previous nightly commit (the newest commit with results on this
   machine; HEAD^ on the first night), and benchmarks/ratios.py tracks the in-session ratio
   current / previous per gated time: drift between nights cancels, so a step shows as one night's
   ratio above 1. ``--steps`` names those nights from asv's results.
3. the run records of the same pipeline runs go into the history folder (the benchmarks'
   setup_cache writes them there: no second run)
4. ``asv publish`` (HTML under reports/asv/html)
5. the HTML report of the newest record (its history, change points, and the verdict against
   baselines/<machine class>/<profile>.json when that exists)

Exit code 0 when every step succeeded (also when there was no new commit to run), 2 when a step
or a benchmark failed. ``t4rec-bench history`` then lists the change points. ``--steps`` runs
nothing: it names the commits whose in-session ratio is significantly above 1, judging each night
once (exit code 1 when it names one among the nights not judged before, else 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.commands._common import DEFAULT_HISTORY
from harness.errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSED, EXIT_RUN_FAILED, HarnessError
from harness.nightly import asv as asv_nightly
from harness.nightly import pairs as nightly_pairs
from harness.nightly.asv import has_results, machine_name, pairs_of, plan, resolve_commit, run_steps

PROFILES = ("nightly", "smoke")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("nightly", help="run the benchmarks under asv, keep the history, publish HTML",
                              description=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=PROFILES, default="nightly",
                   help="workload the benchmarks run (default nightly; smoke for a quick check)")
    p.add_argument("--machine", metavar="NAME", help="asv machine name (default: the harness's machine class)")
    p.add_argument("--range", metavar="SPEC", default="NEW",
                   help="commits for asv run: NEW (default: not yet benchmarked on this machine; on a machine "
                        "with no results yet only HEAD, since asv's NEW would then select every commit), "
                        "HEAD^!, or a..b for an explicit backfill")
    p.add_argument("--existing", action="store_true",
                   help="benchmark the current Python environment (asv -E existing) as commit --commit")
    p.add_argument("--commit", default="HEAD", help="with --existing: the commit the results are filed under")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="device the pipeline runs on")
    p.add_argument("--quick", action="store_true",
                   help="asv run --quick: every benchmark once, for checks (filed like any other result)")
    p.add_argument("--config", metavar="PATH", default="asv.conf.json", help="asv configuration")
    p.add_argument("--bench", metavar="REGEX", action="append", default=[],
                   help="only benchmarks matching REGEX (asv run --bench; repeatable), e.g. pipeline")
    p.add_argument("--history", metavar="DIR", default=str(DEFAULT_HISTORY),
                   help=f"run-record history folder (default {DEFAULT_HISTORY})")
    p.add_argument("--report", metavar="DIR", default="reports/nightly", help="where the HTML report goes")
    p.add_argument("--pairs", type=_pairs, metavar="N",
                   help="most pairs per night of the newest commit with the previous nightly commit, whose "
                        "in-session ratios benchmarks/ratios.py tracks; a night stops once decided (default: "
                        "[nightly] max_pairs in harness/policies.toml; 0: no pairs)")
    p.add_argument("--pair-mode", metavar="MODE", default="",
                   help="how a pair's two sides run (reference.interleaved's mode, e.g. duet or alternating; "
                        "default: the gate's mode in harness/policies.toml, else interleaved's own)")
    p.add_argument("--steps", action="store_true",
                   help="run nothing: name the commits whose in-session ratio (asv results of "
                        "benchmarks/ratios.py) is significantly above 1 by more than [nightly] step_pct in "
                        "harness/policies.toml; judges only the nights no earlier --steps judged (the ledger "
                        "steps-reported.json beside asv's results folder) and exits 1 when one of them is named")
    p.add_argument("--all-nights", action="store_true",
                   help="with --steps: judge every night again, the ledger's too, and add nothing to the ledger")
    p.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    p.set_defaults(func=main)


def _pairs(text: str) -> int:
    try:
        return nightly_pairs.night_pairs(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(args) -> int:
    config = Path(args.config)
    if not config.is_file():
        raise HarnessError(f"{config}: no asv configuration (run from the repository root or pass --config)")
    from harness.judge import history

    conf = history.read_asv_config(config)
    root = config.resolve().parent  # asv resolves the config's relative paths from its folder
    machine = args.machine or machine_name(args.device)
    commit = resolve_commit(args.commit, root / conf.get("repo", ".")) if args.existing else None
    repo = (root / conf.get("repo", ".")).resolve()
    results_dir = root / conf.get("results_dir", "results")
    if getattr(args, "all_nights", False) and not getattr(args, "steps", False):
        raise HarnessError("--all-nights goes with --steps (it says which nights --steps judges)")
    if getattr(args, "steps", False):
        return show_steps(results_dir, repo, args.machine, every=args.all_nights)
    if args.range == "NEW" and not args.existing and not has_results(results_dir, machine):
        print(f"nightly: no results for machine {machine} yet: benchmarking HEAD only "
              f"(backfill older commits with --range a..b)")
        args = argparse.Namespace(**{**vars(args), "range": "HEAD^!"})
    previous = None
    if pairs_of(args):
        previous = nightly_pairs.previous_nightly_commit(
            repo, nightly_pairs.benchmarked_commits(results_dir, machine), commit or "HEAD")
        print(f"nightly: up to {pairs_of(args)} pairs per benchmarked commit; previous nightly commit "
              f"{previous[:10] if previous else '(none: the ratio benchmarks are skipped)'}")
    steps = plan(args, machine, commit, previous, repo)
    if args.dry_run:
        for step in steps:
            env = " ".join(f"{k}={v}" for k, v in step.env.items())
            print(f"{step.title}: {env + ' ' if env else ''}{' '.join(step.argv)}")
        return EXIT_OK
    before = asv_nightly.history_files(Path(args.history))
    failed = run_steps(steps)
    new = sorted(asv_nightly.history_files(Path(args.history)) - before)
    for path in new:
        print(f"nightly: history record {path}")
    try:
        report = _report(new, Path(args.report), Path(args.history), root / conf.get("repo", "."))
    except Exception as exc:  # noqa: BLE001 - the asv results and records are written; say why, go on
        print(f"nightly: HTML report failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        failed.append("report")
        report = None
    if report:
        print(f"nightly: report {report}")
    print(f"nightly: HTML under {root / conf.get('html_dir', 'html')}; change points: t4rec-bench history")
    if "run the benchmarks" in failed:
        return EXIT_RUN_FAILED  # a benchmark run failed: the table's 4 (README, "Exit codes")
    return EXIT_ERROR if failed else EXIT_OK  # asv's bookkeeping or the report failed


def show_steps(results_dir: Path, repo: Path, machine: str | None, every: bool = False,
               ledger_path: Path | None = None) -> int:
    """Print every night's total.wall_s ratio and the steps named in asv's ratio results. Each night is
    judged once (harness/documents/steps_ledger.py): exit 1 when a night not judged before is named, and
    the nights judged now join the ledger. ``every``: judge every night, and leave the ledger as it is."""
    from datetime import datetime, timezone

    from harness.documents import steps_ledger

    nights = nightly_pairs.asv_nights(results_dir, repo, machine)
    if not nights:
        print(f"nightly: no ratio results (benchmarks/ratios.py) under {results_dir}")
        return EXIT_OK
    ledger_path = ledger_path or steps_ledger.default_path(results_dir)
    ledger = steps_ledger.load(ledger_path)
    before = set() if every else steps_ledger.judged(ledger)
    named, judged_now, now = [], [], datetime.now(timezone.utc).isoformat(timespec="seconds")
    for key, series in nights.items():
        totals = [n for n in series if n.ratio.name == "total.wall_s"]
        print(f"{key}: total.wall_s ratio per night: "
              + (", ".join(f"{n.commit[:8]} {n.ratio.ratio:.3f}" for n in totals) or "(none)"))
        for commit in dict.fromkeys(n.commit for n in series):
            night = [n for n in series if n.commit == commit]
            found = nightly_pairs.steps(night, improvements=True)
            old = (key, commit) in before
            for step in found:
                print(f"  step: {step.line()}{' (judged before)' if old else ''}")
            if old:
                continue
            named += [s for s in found if s.direction == "regressed"]
            judged_now.append({"context": key, "commit": commit, "previous": night[0].previous,
                               "judged_at": now, "steps": [s.line() for s in found]})
    if judged_now and not every:
        steps_ledger.add(ledger_path, ledger, judged_now)
    earlier = len(before & {(key, n.commit) for key, series in nights.items() for n in series})
    print(f"nightly: {len(judged_now)} night{'s' if len(judged_now) != 1 else ''} judged now"
          + (" (--all-nights: the ledger is left as it is)" if every else
             f", {earlier} judged before (ledger {ledger_path})"))
    if not named:
        print(f"nightly: no new step (no night judged now has a ratio significantly above 1 by "
              f"{nightly_pairs.settings().step_pct:g}%)")
    return EXIT_REGRESSED if named else EXIT_OK


def _report(new_records: list[Path], out_dir: Path, history_dir: Path, repo: Path) -> Path | None:
    """The HTML report of the newest commit's record: its history, change points and the verdict against
    the stored baseline when there is one."""
    if not new_records:
        return None
    from harness.documents import record
    from harness.judge import changepoints, history
    from harness.output.report import build_report

    records = history.in_commit_order(history.load_records(history_dir).records, history.git_order(repo))
    new_ids = {record.load(p)["run_id"] for p in new_records}
    rec = [r for r in records if r["run_id"] in new_ids][-1]  # the newest commit's run
    series = [s for s in history.record_series(records) if s.context == history.context_of(rec)]
    verdict, base = _verdict(rec)
    return build_report([rec], out_dir / "index.html", verdict=verdict, baseline=base,
                        history=list(records), changepoints=changepoints.detect_all(series))


def _verdict(rec: dict):
    """(verdict, baseline) against baselines/<machine class>/<profile>.json, or (None, None)."""
    from harness.documents import baseline
    from harness.judge.judging import judge, load_baseline

    path = baseline.default_path(rec["profile"], rec["environment"]["machine_class"])
    try:
        base = load_baseline(path)
    except HarnessError as exc:
        print(f"nightly: baseline not used: {exc}", file=sys.stderr)
        return None, None
    return (judge(rec, path, stored=base), base) if base is not None else (None, None)
