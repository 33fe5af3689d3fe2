"""``t4rec-bench nightly``: the nightly sequence under airspeed velocity.

1. ``asv machine --yes --machine <machine class>``  (the harness's machine class, e.g. cpu-2c-x86_64)
2. ``asv run NEW`` (or ``--range``) in managed virtualenvs built with the Makefile's pins, or with
   ``--existing`` the current environment as commit ``--commit`` (how a GPU box in a container runs it)
3. the run records of the same pipeline runs go into the history folder (the benchmarks'
   setup_cache writes them there: no second run)
4. ``asv publish`` (HTML under reports/asv/html)
5. the HTML report of the newest record (its history, change points, and the verdict against
   baselines/<machine class>/<profile>.json when that exists), when harness.report is there

Exit code 0 when every step succeeded (also when there was no new commit to run), 2 when a step
or a benchmark failed. ``t4rec-bench history`` then lists the change points.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EXIT_ERROR, EXIT_OK, HarnessError
from ._common import DEFAULT_HISTORY

PROFILES = ("nightly", "smoke")
NOTHING_NEW = "No commit hashes selected"  # asv run's message (exit 1) when NEW finds no commit


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    env: dict = field(default_factory=dict)  # added to the environment of the command


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
    p.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    p.set_defaults(func=main)


def machine_name(device: str) -> str:
    """The harness's machine class, as records carry it (``gpu-h100``, ``cpu-2c-x86_64``)."""
    from .. import env

    cuda = None
    if device == "cuda":
        from .. import gpu

        cuda = gpu.cuda_info()
    return env.machine_class(cuda)


def resolve_commit(name: str, repo: Path) -> str:
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", f"{name}^{{commit}}"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise HarnessError(f"--commit {name!r}: not a commit in {repo} ({out.stderr.strip() or 'git failed'})")
    return out.stdout.strip()


def has_results(results_dir: Path, machine: str) -> bool:
    """Whether asv has any benchmark result for ``machine`` (besides its machine.json)."""
    folder = results_dir / machine
    return folder.is_dir() and any(p.name != "machine.json" for p in folder.glob("*.json"))


def plan(args, machine: str, commit: str | None) -> list[Step]:
    """The asv commands of one nightly run, in order (pure: nothing is run)."""
    asv = (sys.executable, "-m", "asv")
    config = ("--config", str(Path(args.config).resolve()))
    bench_env = {"T4REC_BENCH_PROFILES": args.profile, "T4REC_BENCH_RECORD_DIR": str(Path(args.history).resolve()),
                 "T4REC_BENCH_DEVICE": args.device}
    if args.existing:  # asv refuses a range with an existing environment: one run, filed under commit
        run = [*asv, "run", *config, "-E", "existing", "--set-commit-hash", commit]
        bench_env["T4REC_BENCH_COMMIT"] = commit
    else:
        run = [*asv, "run", args.range, *config]
    run += ["--machine", machine, "--show-stderr"]
    for regex in args.bench:
        run += ["--bench", regex]
    if args.quick:
        run.append("--quick")
    return [Step("register the machine", (*asv, "machine", *config, "--yes", "--machine", machine)),
            Step("run the benchmarks", tuple(run), bench_env),
            Step("publish the HTML", (*asv, "publish", *config))]


def _run(step: Step) -> tuple[int, str]:
    """Run one step, echoing its output; return its exit code and the output's tail."""
    print(f"nightly: {step.title}: {' '.join(step.argv)}", flush=True)
    proc = subprocess.Popen(step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **step.env})
    tail: list[str] = []
    for line in proc.stdout:
        sys.stdout.write(line)
        tail = (tail + [line])[-50:]
    return proc.wait(), "".join(tail)


def _history_files(folder: Path) -> set[Path]:
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def main(args) -> int:
    config = Path(args.config)
    if not config.is_file():
        raise HarnessError(f"{config}: no asv configuration (run from the repository root or pass --config)")
    from .. import history

    conf = history.read_asv_config(config)
    root = config.resolve().parent  # asv resolves the config's relative paths from its folder
    machine = args.machine or machine_name(args.device)
    commit = resolve_commit(args.commit, root / conf.get("repo", ".")) if args.existing else None
    if args.range == "NEW" and not args.existing and not has_results(root / conf.get("results_dir", "results"), machine):
        print(f"nightly: no results for machine {machine} yet: benchmarking HEAD only "
              f"(backfill older commits with --range a..b)")
        args = argparse.Namespace(**{**vars(args), "range": "HEAD^!"})
    steps = plan(args, machine, commit)
    if args.dry_run:
        for step in steps:
            env = " ".join(f"{k}={v}" for k, v in step.env.items())
            print(f"{step.title}: {env + ' ' if env else ''}{' '.join(step.argv)}")
        return EXIT_OK
    before = _history_files(Path(args.history))
    failed = _run_steps(steps)
    new = sorted(_history_files(Path(args.history)) - before)
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
    return EXIT_ERROR if failed else EXIT_OK


def _run_steps(steps: list[Step]) -> list[str]:
    """Run every step; a failed benchmark run still gets published. Returns the failed titles."""
    failed = []
    for step in steps:
        code, tail = _run(step)
        if code == 1 and NOTHING_NEW in tail:
            print("nightly: no new commit to benchmark")
        elif code != 0:
            print(f"nightly: {step.title} failed (exit code {code})", file=sys.stderr)
            failed.append(step.title)
            if step.title == "register the machine":
                break
    return failed


def _report(new_records: list[Path], out_dir: Path, history_dir: Path, repo: Path) -> Path | None:
    """The HTML report of the newest commit's record: its history, change points and the verdict against
    the stored baseline when there is one. Skipped when harness.report is not there."""
    if not new_records:
        return None
    try:
        from ..report import build_report
    except ImportError:
        print("nightly: no harness.report module: HTML report skipped")
        return None
    from .. import changepoints, history, record

    records = history.in_commit_order(history.load_records(history_dir).records, history.git_order(repo))
    new_ids = {record.load(p)["run_id"] for p in new_records}
    rec = [r for r in records if r["run_id"] in new_ids][-1]  # the newest commit's run
    series = [s for s in history.record_series(records) if s.context == history.context_of(rec)]
    verdict, base = _verdict(rec)
    return build_report([rec], out_dir / "index.html", verdict=verdict, baseline=base,
                        history=list(records), changepoints=changepoints.detect_all(series))


def _verdict(rec: dict):
    """(verdict, baseline) against baselines/<machine class>/<profile>.json, or (None, None)."""
    from .. import baseline
    from ..judge import judge, load_baseline

    path = baseline.default_path(rec["profile"], rec["environment"]["machine_class"])
    try:
        base = load_baseline(path)
    except HarnessError as exc:
        print(f"nightly: baseline not used: {exc}", file=sys.stderr)
        return None, None
    return (judge(rec, path, stored=base), base) if base is not None else (None, None)
