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
import dataclasses
import sys
from pathlib import Path

from harness.commands._common import DEFAULT_HISTORY, add_option, options_from
from harness.errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSED, EXIT_RUN_FAILED, HarnessError
from harness.nightly import asv as asv_nightly
from harness.nightly import pairs as nightly_pairs
from harness.nightly.asv import DEVICES, PROFILES, NightlyOptions


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("nightly", help="run the benchmarks under asv, keep the history, publish HTML",
                              description=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _option(p, "--profile", choices=PROFILES)
    _option(p, "--machine", metavar="NAME")
    _option(p, "--range", metavar="SPEC")
    _option(p, "--existing", action="store_true")
    _option(p, "--commit")
    _option(p, "--device", choices=DEVICES)
    _option(p, "--quick", action="store_true")
    _option(p, "--config", metavar="PATH")
    _option(p, "--bench", metavar="REGEX", action="append", default=[])
    _option(p, "--history", metavar="DIR", default=str(DEFAULT_HISTORY))
    _option(p, "--report", metavar="DIR")
    _option(p, "--pairs", type=int, metavar="N")
    _option(p, "--pair-mode", metavar="MODE")
    _option(p, "--steps", action="store_true")
    _option(p, "--all-nights", action="store_true")
    _option(p, "--dry-run", action="store_true")
    p.set_defaults(func=main)


def _option(p, flag: str, **kw) -> None:
    add_option(p, NightlyOptions, flag, **kw)


def options(args) -> NightlyOptions:
    """The command line as NightlyOptions (which checks it)."""
    return options_from(args, NightlyOptions, bench=tuple(args.bench))


def main(args) -> int:
    return run(options(args))


def run(opts: NightlyOptions) -> int:
    config = Path(opts.config)
    if not config.is_file():
        raise HarnessError(f"{config}: no asv configuration (run from the repository root or pass --config)")
    from harness.documents import asv_config

    conf = asv_config.read(config)
    root = config.resolve().parent  # asv resolves the config's relative paths from its folder
    machine = opts.machine or asv_nightly.machine_name(opts.device)
    commit = asv_nightly.resolve_commit(opts.commit, root / conf.get("repo", ".")) if opts.existing else None
    repo = (root / conf.get("repo", ".")).resolve()
    results_dir = root / conf.get("results_dir", "results")
    if opts.steps:
        return show_steps(results_dir, repo, opts.machine, every=opts.all_nights)
    if opts.range == "NEW" and not opts.existing and not asv_nightly.has_results(results_dir, machine):
        print(f"nightly: no results for machine {machine} yet: benchmarking HEAD only "
              f"(backfill older commits with --range a..b)")
        opts = dataclasses.replace(opts, range="HEAD^!")
    previous = None
    if opts.max_pairs:
        previous = nightly_pairs.previous_nightly_commit(
            repo, nightly_pairs.benchmarked_commits(results_dir, machine), commit or "HEAD")
        print(f"nightly: up to {opts.max_pairs} pairs per benchmarked commit; previous nightly commit "
              f"{previous[:10] if previous else '(none: the ratio benchmarks are skipped)'}")
    steps = asv_nightly.plan(opts, machine, commit, previous, repo)
    if opts.dry_run:
        for step in steps:
            env = " ".join(f"{k}={v}" for k, v in step.env.items())
            print(f"{step.title}: {env + ' ' if env else ''}{' '.join(step.argv)}")
        return EXIT_OK
    before = asv_nightly.history_files(Path(opts.history))
    failed = asv_nightly.run_commands(steps)
    new = sorted(asv_nightly.history_files(Path(opts.history)) - before)
    for path in new:
        print(f"nightly: history record {path}")
    if not _report(new, Path(opts.report), Path(opts.history), root / conf.get("repo", ".")):
        failed.append("report")
    print(f"nightly: HTML under {root / conf.get('html_dir', 'html')}; change points: t4rec-bench history")
    if "run the benchmarks" in failed:
        return EXIT_RUN_FAILED  # a benchmark run failed: the table's 4 (README, "Exit codes")
    return EXIT_ERROR if failed else EXIT_OK  # asv's bookkeeping or the report failed


def show_steps(results_dir: Path, repo: Path, machine: str | None, every: bool = False,
               ledger_path: Path | None = None) -> int:
    """Print every night's total.wall_s ratio and the steps named in asv's ratio results (harness/nightly/
    nights.py judges them, each night once): exit 1 when a night not judged before is named."""
    from harness.nightly import nights

    found = nights.judge(results_dir, repo, machine, every, ledger_path)
    if found is None:
        print(f"nightly: no ratio results (benchmarks/ratios.py) under {results_dir}")
        return EXIT_OK
    for key, totals in found.totals.items():
        print(f"{key}: total.wall_s ratio per night: "
              + (", ".join(f"{n.commit[:8]} {n.ratio.ratio:.3f}" for n in totals) or "(none)"))
        for night in (n for n in found.nights if n.context == key):
            for step in night.steps:
                print(f"  step: {step.line()}{' (judged before)' if night.before else ''}")
                hint = bisect_hint(repo, key, totals, step) if step.direction == "regressed" else None
                if hint:
                    print(f"    {hint}")
    n = found.judged_now
    print(f"nightly: {n} night{'s' if n != 1 else ''} judged now"
          + (" (--all-nights: the ledger is left as it is)" if every else
             f", {found.judged_before} judged before (ledger {found.ledger_path})"))
    if not found.named:
        print(f"nightly: no new step (no night judged now has a ratio significantly above 1 by "
              f"{nightly_pairs.settings().step_pct:g}%)")
    return EXIT_REGRESSED if found.named else EXIT_OK


def bisect_hint(repo: Path | None, key: str, series, step) -> str | None:
    """For a step whose night covered several commits (its previous night is not its first parent): the
    words and the exact `t4rec-bench bisect <previous night> <this>` command that names the one."""
    import shlex

    from harness import REPO_DIR, vcs

    commits = list(dict.fromkeys(n.commit for n in series if n.ratio.name == step.measurement))
    i = commits.index(step.commit) if step.commit in commits else 0
    previous = step.previous or (commits[i - 1] if i else "")
    if repo is None or not previous:
        return None
    try:
        covered = vcs.Repo(repo).first_parents(previous, step.commit)
    except HarnessError:
        return None  # not on one first-parent line (or not in this repository): nothing to bisect
    if len(covered) < 2:
        return None
    argv = ["t4rec-bench", "bisect", previous, step.commit, "--profile", key.rsplit(" ", 1)[-1],
            "--metric", step.measurement]
    if Path(repo).resolve() != REPO_DIR.resolve():
        argv += ["--repo", str(Path(repo).resolve())]
    return f"the night covered {len(covered)} commits; to name the one: {shlex.join(argv)}"


def _report(new_records: list[Path], out_dir: Path, history_dir: Path, repo: Path) -> bool:
    """Write the HTML report of the newest commit's record (harness/nightly/report.py) and say where;
    False when it failed (the asv results and records are written by then)."""
    from harness.nightly import report

    try:
        path, why = report.newest(new_records, out_dir, history_dir, repo)
    except Exception as exc:  # the asv results and records are written; say why, go on
        print(f"nightly: HTML report failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    if why:
        print(f"nightly: baseline not used: {why}", file=sys.stderr)
    if path:
        print(f"nightly: report {path}")
    return True
