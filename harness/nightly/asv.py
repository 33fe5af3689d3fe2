"""The asv side of ``t4rec-bench nightly`` (harness/commands/nightly.py): the machine class, the
commands of one nightly run (``plan``, pure), and running them (``run_steps``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import vcs
from harness.nightly import pairs as nightly_pairs

NOTHING_NEW = "No commit hashes selected"  # asv run's message (exit 1) when NEW finds no commit


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    env: dict = field(default_factory=dict)  # added to the environment of the command


def pairs_of(args) -> int:
    pairs = getattr(args, "pairs", None)
    return nightly_pairs.settings().max_pairs if pairs is None else pairs


def machine_name(device: str) -> str:
    """The harness's machine class, as records carry it (``gpu-h100``, ``cpu-2c-x86_64``)."""
    from harness.measure import environment as env

    cuda = None
    if device == "cuda":
        from harness.measure import gpu

        cuda = gpu.cuda_info()
    return env.machine_class(cuda)


def resolve_commit(name: str, repo: Path) -> str:
    """The full sha of ``name`` in ``repo`` (harness/vcs.py); HarnessError naming it when there is none."""
    return vcs.Repo(repo).resolve(name)


def has_results(results_dir: Path, machine: str) -> bool:
    """Whether asv has any benchmark result for ``machine`` (besides its machine.json)."""
    folder = results_dir / machine
    return folder.is_dir() and any(p.name != "machine.json" for p in folder.glob("*.json"))


def plan(args, machine: str, commit: str | None, previous: str | None = None, repo: Path | None = None) -> list[Step]:
    """The asv commands of one nightly run, in order (pure: nothing is run). ``previous``: the previous
    nightly commit the benchmarked commits are paired with (benchmarks/ratios.py), in ``repo``."""
    asv = (sys.executable, "-m", "asv")
    config = ("--config", str(Path(args.config).resolve()))
    bench_env = {"T4REC_BENCH_PROFILES": args.profile, "T4REC_BENCH_RECORD_DIR": str(Path(args.history).resolve()),
                 "T4REC_BENCH_DEVICE": args.device,
                 nightly_pairs.PAIRS_VAR: str(pairs_of(args))}
    if getattr(args, "pair_mode", ""):
        bench_env[nightly_pairs.MODE_VAR] = args.pair_mode
    if previous:
        bench_env[nightly_pairs.PREVIOUS_VAR] = previous
    if repo is not None:
        bench_env[nightly_pairs.REPO_VAR] = str(Path(repo).resolve())
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


def history_files(folder: Path) -> set[Path]:
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def run_steps(steps: list[Step]) -> list[str]:
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


