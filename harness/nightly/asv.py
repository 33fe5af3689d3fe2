"""The asv side of ``t4rec-bench nightly`` (harness/commands/nightly.py): its options
(``NightlyOptions``), the machine class, the commands of one nightly run (``plan``, pure), and running
them (``run_commands``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import vcs
from harness.errors import HarnessError
from harness.nightly import pairs as nightly_pairs

NOTHING_NEW = "No commit hashes selected"  # asv run's message (exit 1) when NEW finds no commit


@dataclass(frozen=True)
class AsvCommand:
    title: str
    argv: tuple[str, ...]
    env: dict = field(default_factory=dict)  # added to the environment of the command


PROFILES = ("nightly", "smoke")  # the profiles benchmarks/ runs
DEVICES = ("cpu", "cuda")


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class NightlyOptions:
    """The options of one ``t4rec-bench nightly``, built once from its command line (harness/commands/
    nightly.py, whose --help shows each field's help) and checked here, in one place."""

    profile: str = _opt("nightly", "workload the benchmarks run (default nightly; smoke for a quick check)")
    machine: str | None = _opt(None, "asv machine name (default: the harness's machine class)")
    range: str = _opt("NEW", "commits for asv run: NEW (default: not yet benchmarked on this machine; on a "
                             "machine with no results yet only HEAD, since asv's NEW would then select every "
                             "commit), HEAD^!, or a..b for an explicit backfill")
    existing: bool = _opt(False, "benchmark the current Python environment (asv -E existing) as commit --commit")
    commit: str = _opt("HEAD", "with --existing: the commit the results are filed under")
    device: str = _opt("cpu", "device the pipeline runs on")
    quick: bool = _opt(False, "asv run --quick: every benchmark once, for checks (filed like any other result)")
    config: str = _opt("asv.conf.json", "asv configuration")
    bench: tuple[str, ...] = _opt((), "only benchmarks matching REGEX (asv run --bench; repeatable), "
                                      "e.g. pipeline")
    history: str = _opt("reports/history", "run-record history folder (default %(default)s)")
    report: str = _opt("reports/nightly", "where the HTML report goes")
    pairs: int | None = _opt(None, "most pairs per night of the newest commit with the previous nightly commit, "
                                   "whose in-session ratios benchmarks/ratios.py tracks; a night stops once "
                                   "decided (default: [nightly] max_pairs in harness/policies.toml; 0: no pairs)")
    pair_mode: str = _opt("", "how a pair's two sides run (reference.interleaved's mode, e.g. duet or "
                              "alternating; default: the gate's mode in harness/policies.toml, else "
                              "interleaved's own)")
    steps: bool = _opt(False, "run nothing: name the commits whose in-session ratio (asv results of "
                              "benchmarks/ratios.py) is significantly above 1 by more than [nightly] step_pct "
                              "in harness/policies.toml; judges only the nights no earlier --steps judged (the "
                              "ledger steps-reported.json beside asv's results folder) and exits 1 when one of "
                              "them is named")
    all_nights: bool = _opt(False, "with --steps: judge every night again, the ledger's too, and add nothing to "
                                   "the ledger")
    dry_run: bool = _opt(False, "print the commands without running them")

    def __post_init__(self):
        from harness.judge.policy import MODES

        bad_pairs = None if self.pairs is None else _bad_pairs(self.pairs)
        wrong = [(self.profile not in PROFILES, f"--profile {self.profile!r}: one of {', '.join(PROFILES)}"),
                 (self.device not in DEVICES, f"--device {self.device!r}: one of {', '.join(DEVICES)}"),
                 (bad_pairs is not None, f"--pairs {bad_pairs}"),
                 (self.pair_mode not in ("", *MODES), f"--pair-mode {self.pair_mode!r}: one of {', '.join(MODES)}"),
                 (self.all_nights and not self.steps, "--all-nights goes with --steps (it says which nights "
                                                      "--steps judges)")]
        for bad, message in wrong:
            if bad:
                raise HarnessError(message)

    @property
    def max_pairs(self) -> int:
        """Most pairs per night: --pairs, else [nightly] max_pairs."""
        return nightly_pairs.settings().max_pairs if self.pairs is None else self.pairs


def _bad_pairs(pairs: int) -> str | None:
    """Why ``pairs`` is not a number of pairs per night (nightly/pairs.py night_pairs), or None."""
    try:
        nightly_pairs.night_pairs(pairs)
    except ValueError as exc:
        return str(exc)
    return None


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


def plan(options: NightlyOptions, machine: str, commit: str | None, previous: str | None = None,
         repo: Path | None = None) -> list[AsvCommand]:
    """The asv commands of one nightly run, in order (pure: nothing is run). ``previous``: the previous
    nightly commit the benchmarked commits are paired with (benchmarks/ratios.py), in ``repo``."""
    asv = (sys.executable, "-m", "asv")
    config = ("--config", str(Path(options.config).resolve()))
    bench_env = {"T4REC_BENCH_PROFILES": options.profile,
                 "T4REC_BENCH_RECORD_DIR": str(Path(options.history).resolve()),
                 "T4REC_BENCH_DEVICE": options.device, nightly_pairs.PAIRS_VAR: str(options.max_pairs)}
    if options.pair_mode:
        bench_env[nightly_pairs.MODE_VAR] = options.pair_mode
    if previous:
        bench_env[nightly_pairs.PREVIOUS_VAR] = previous
    if repo is not None:
        bench_env[nightly_pairs.REPO_VAR] = str(Path(repo).resolve())
    if options.existing:  # asv refuses a range with an existing environment: one run, filed under commit
        assert commit is not None, "with --existing the caller resolves the commit"
        run = [*asv, "run", *config, "-E", "existing", "--set-commit-hash", commit]
        bench_env["T4REC_BENCH_COMMIT"] = commit
    else:
        run = [*asv, "run", options.range, *config]
    run += ["--machine", machine, "--show-stderr"]
    for regex in options.bench:
        run += ["--bench", regex]
    if options.quick:
        run.append("--quick")
    return [AsvCommand("register the machine", (*asv, "machine", *config, "--yes", "--machine", machine)),
            AsvCommand("run the benchmarks", tuple(run), bench_env),
            AsvCommand("publish the HTML", (*asv, "publish", *config))]


def _run(step: AsvCommand) -> tuple[int, str]:
    """Run one step, echoing its output; return its exit code and the output's tail."""
    print(f"nightly: {step.title}: {' '.join(step.argv)}", flush=True)
    proc = subprocess.Popen(step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **step.env})
    tail: list[str] = []
    assert proc.stdout is not None  # stdout=PIPE
    for line in proc.stdout:
        sys.stdout.write(line)
        tail = (tail + [line])[-50:]
    return proc.wait(), "".join(tail)


def history_files(folder: Path) -> set[Path]:
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def run_commands(steps: list[AsvCommand]) -> list[str]:
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


