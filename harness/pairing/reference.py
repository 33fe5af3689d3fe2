"""The in-session reference: the baseline's commit re-run in this session, interleaved with the current code.

A stored baseline was timed in another session, and this machine's speed drifts between
sessions: the same pipeline code ran 8.2% faster 85 minutes after the then committed baseline was
recorded, and 22.8% faster 22 minutes later (total.wall_s; docs/measurements.md, "Measured on this
machine"). Against a stored baseline a time can only be trusted beyond
a cross-session floor (policies.toml, ``cross_session_pct``). Running the baseline's own code
in the same session, alternating with the current code, puts both sides on the same machine at
the same time, so drift cancels and times are judged at the statistics' threshold. Memory
(anonymous RSS), ranking metrics and counts do not drift and stay judged against the stored
baseline.

The reference is the commit's tree (``git archive``) run by its own harness, ``python -m
harness.cli run``, in the baseline's ENVIRONMENT (harness/envs/build.py builds it from the commit's
own install files, cached; when the installed distributions already match the baseline's, it
is simply the current environment). When both the code and the environment differ, a third
arm runs the baseline's code in the current environment (the "cross" arm), so that a
regression can be attributed to the code (current vs cross) or to the environment (cross vs
reference). The sides of a round run at once or in turn (``interleaved``'s mode: [gate] mode), the
order rotating so that no side always starts first. Their records go to ``<history>/reference/``,
apart from the current code's history series.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness import REPO_DIR, vcs
from harness.config import RunConfig
from harness.documents import record
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError
from harness.output.progress import Progress
from harness.pairing import crossover, together
from harness.pairing.together import TOGETHER
from harness.run.runner import kill_tree

ROOT = REPO_DIR


@dataclass(frozen=True)
class Reference:
    commit: str  # full sha
    code_dir: Path  # the commit's tree, extracted


@dataclass(frozen=True)
class Arm:
    """One side run beside the current code: ``code`` run by the interpreter ``python``."""
    name: str  # "reference" (baseline code, baseline environment) or "cross" (baseline code, current environment)
    code: Reference
    python: str  # interpreter of the arm's environment


def resolve(rev: str, repo: Path = ROOT) -> str:
    """The full commit sha of ``rev`` in ``repo`` (harness/vcs.py); HarnessError if git or the commit is not there."""
    return vcs.Repo(repo).resolve(rev)


def checkout(rev: str, dest: Path, repo: Path = ROOT) -> Reference:
    """Extract the tree of ``rev`` into ``dest`` (no .git, nothing else of the working tree)."""
    commit = vcs.Repo(repo).archive(rev, dest)
    if not (dest / "harness" / "cli.py").is_file():
        raise HarnessError(f"reference {commit[:10]}: the commit has no harness/cli.py to run")
    return Reference(commit, dest)


def run_argv(config, faults: bool = False) -> list[str]:
    """`run` options that give another harness this config's workload: the profile, the device, and
    ``--set`` for every field that differs from the profile. Faults travel only with ``faults`` (the
    current code's own side of a duet); a reference never gets them."""
    from harness.config import build_config
    from harness.measure.environment import diff

    argv = ["--profile", config.profile, "--device", config.device]
    plain = build_config(config.profile, {"device": config.device}).to_dict()
    skip = ("device", "profile") if faults else ("faults", "device", "profile")
    for key, _, value in diff(plain, config.to_dict()):
        if key.split(".")[0] not in skip:
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            argv += ["--set", f"{key}={text}"]
    return argv


def run_once(ref: Reference, argv: list[str], out_dir: Path, timeout_s: float, python: str | None = None,
             started=None, env: dict | None = None, wrap: tuple = ()) -> RunRecord:
    """One run of ``ref``'s code through its own ``python -m harness.cli run ... --out`` (by ``python``,
    default this interpreter); its run record. ``started(pid)`` is called once the process exists,
    ``started(None)`` once it has ended (the duet's CPU placement); ``env``: variables added to its
    environment (the launch barrier's); ``wrap``: a command that runs it (a profiler's, ending in "--").
    HarnessError if it produced none."""
    out = out_dir / f"run-{uuid.uuid4().hex[:12]}.json"  # unique: duet sides run at once
    cmd = [*wrap, python or sys.executable, "-m", "harness.cli", "run", *argv, "--quiet", "--out", str(out),
           "--history", str(out_dir / "history")]
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ref.code_dir)}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=ref.code_dir, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            if started:
                started(proc.pid)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            kill_tree(proc)
            raise HarnessError(f"{ref.commit[:10]}: no record after {timeout_s:.0f} s") from exc
        except BaseException:
            kill_tree(proc)
            raise
        finally:
            if started:
                started(None)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if not out.is_file():
        last = (stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HarnessError(f"{ref.commit[:10]}: run exited {proc.returncode}: {last}")
    return record.load(out)


def run_timeout_s(config) -> float:
    """How long one side's run may take before it is killed (well past the stage timeout, after which
    the run's own watchdog ends a hung stage)."""
    return 3 * config.stage_timeout_s + 300


def pairing(config, sides: int, mode: str) -> tuple[str, str | None]:
    """(the mode a round of ``sides`` runs will use, why it is not ``mode`` or None).

    The modes that run every side at once give each side the profile's threads: they need sides x
    threads CPUs, else the runs would share cores unevenly and the pair would measure the contention
    (then: alternating), except the gate's three sides where two fit: each round then runs as two pairs
    (harness/pairing/together.py ``groups``), and the second value says so. Crossover and pinned also need
    to place threads on CPUs (Linux); else: duet."""
    if mode not in TOGETHER:
        return mode, None
    threads, have = config.threads or together.cores(), together.cores()
    two_pairs = together.split(config, sides, mode)
    if sides * threads > have and not two_pairs:
        return "alternating", (f"alternating instead of {mode} pairs: {sides} sides x {threads} thread(s) need "
                               f"{sides * threads} CPUs, this machine gives {have}")
    why = None
    if mode != "duet" and not crossover.supported():
        mode, why = "duet", f"duet instead of {mode} pairs: this platform cannot set a process's CPU affinity"
    if two_pairs:
        why = "; ".join(filter(None, [why, (
            f"each round ran as two {mode} pairs, one after the other ({sides} sides x {threads} thread(s) do not "
            f"fit {have} CPUs at once): the current code with the reference, then the cross arm with a second "
            f"run of the reference")]))
    return mode, why


def interleaved(config, repeat: int, arms, progress=None, command: str | None = None,
                timeout_s: float | None = None, mode: str = "alternating",
                stop=None, period_s: float | None = None,
                pairs_log: list | None = None, barrier_timeout_s: float | None = None,
                current: Arm | None = None) -> tuple[list[RunRecord], dict[str, list[RunRecord]], str | None]:
    """Up to ``repeat`` rounds; in each, one run of the current code and one of every arm.

    ``mode`` (use ``pairing`` first: it falls back when the machine cannot hold it): "alternating"
    runs the sides of a round one after the other, in rotating order; the other modes start them
    together (in rotating start order), so that whatever else the machine does hits every side of
    a pair at once, and then each side runs through the same entry point (its code's
    ``python -m harness.cli run ... --out``), so that neither carries a process the other lacks; their
    CPU placement ("crossover": traded every ``period_s``), launch barrier (``barrier_timeout_s``) and
    groups: harness/pairing/together.py. ``stop(current, arm records)``, called after each complete
    round, ends the rounds early when it returns True (the sequential gate). ``arms``: a list of Arm
    (or one Reference, run by this interpreter as the "reference" arm); when a round's sides do not fit the
    CPUs at once, it runs as two pairs and the records gain the PARTNER arm (harness/pairing/together.py).
    ``pairs_log``: when given,
    one dict per round is appended: its mode, how its sides started ("launch": "barrier", "apart" when a
    side waited in vain, or why there was no barrier), seconds and what else used the host's CPUs
    (harness.measure.host.between).
    ``current``: the side the arms are paired with; None: this tree, run by this process (or, in the
    modes that run at once, by this interpreter's ``harness.cli run``); an Arm: that code and
    interpreter, run like an arm (a duel of two other trees, harness/pairing/duel.py).
    Returns (current records, {arm name: records}, why the arms were dropped or None). A failed
    arm run stops all arms (the current runs go on, unless ``current`` is an Arm: then nothing is
    left to pair): the caller then judges times against the stored baseline, and says why. A failed
    current run stops everything.
    """
    from harness.measure import host
    from harness.output.progress import Progress
    from harness.run import runner

    if isinstance(arms, Reference):
        arms = [Arm("reference", arms, sys.executable)]
    progress = progress or Progress(enabled=False)
    timeout_s = timeout_s or run_timeout_s(config)
    sides = [arms[0].name, "current", *[a.name for a in arms[1:]]]
    rounds = together.groups(config, sides, mode)
    if len(rounds) > 1:  # the reference runs twice a round: once beside the current code, once beside the cross arm
        arms = [*arms, Arm(together.PARTNER, arms[0].code, arms[0].python)]
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-runs-") as tmp:
        run = _Sides(config, run_argv(config), {a.name: a for a in arms}, Path(tmp), timeout_s, progress, command,
                     runner.collect_environment(config) if mode not in TOGETHER and current is None else None,
                     records={a.name: [] for a in arms}, together=mode in TOGETHER, other=current)
        for i in range(repeat):
            run.round, before = i, host.snapshot()
            launch = together.one_round(run, i, rounds, repeat, mode, [*arms, *([current] if current else [])],
                                        Path(tmp) / f"barrier-{i}", period_s, barrier_timeout_s)
            if pairs_log is not None:
                launch = together.started(launch, [run.current, *run.records.values()], i)
                pairs_log.append({"round": i, "mode": mode, **launch,
                                  **host.between(before, host.snapshot())})
            if (run.current and run.current[-1]["status"] != "ok") or (run.dropped and current is not None):
                break
            complete = run.dropped is None and all(len(r) == len(run.current) for r in run.records.values())
            if complete and stop is not None and stop(run.current, run.records):
                break
    return run.current, run.records, run.dropped


@dataclass
class _Sides:
    """Runs one side of a round (the current code or an arm) and files its record."""
    config: RunConfig
    argv: list
    arms: dict[str, Arm]  # name -> Arm
    tmp: Path
    timeout_s: float
    progress: Progress
    command: str | None
    environment: dict | None  # the current side's when it runs in this process (runner.collect_environment)
    current: list[RunRecord] = field(default_factory=list)  # the current code's records
    records: dict[str, list[RunRecord]] = field(default_factory=dict)  # arm name -> its records
    dropped: str | None = None  # why the arms were dropped
    round: int = 0
    together: bool = False  # the sides run at once: the current code through its own `harness.cli run` too
    other: Arm | None = None  # the current side is this code and interpreter, not this tree (interleaved's current)

    def __call__(self, side: str, repeat: int, place=None, index: int = 0, env: dict | None = None) -> None:
        started = together.placed(place, index)
        if side == "current":
            self.progress.repetition(self.round + 1, repeat)
            self.current.append(self._current(started, env))
        elif self.dropped is None:
            arm = self.arms[side]
            self.progress.reference(self.round + 1, repeat, arm.code.commit, arm.name)
            why = _one_arm_run(arm, self.argv, self.tmp, self.timeout_s, self.records[side], started, env)
            self.dropped = self.dropped or why

    def _current(self, started, env: dict | None = None) -> RunRecord:
        from harness.run import runner

        command = self.command or " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])
        if self.other is not None:
            rec = run_once(self.other.code, self.argv, self.tmp, self.timeout_s, self.other.python, started, env)
        elif not self.together:
            return runner.run(self.config, progress=self.progress, command=command, environment=self.environment)
        else:
            here = Reference("current", REPO_DIR)
            rec = run_once(here, run_argv(self.config, faults=True), self.tmp, self.timeout_s, started=started,
                           env=env)
        rec["command"] = command  # the record just read: this session's command line, not the subprocess's
        return rec


def _one_arm_run(arm: Arm, argv: list[str], tmp: Path, timeout_s: float, into: list[RunRecord], started=None,
                 env: dict | None = None) -> str | None:
    """Run ``arm`` once, append its record to ``into``; why the arm must be dropped, or None."""
    try:
        rec = run_once(arm.code, argv, tmp, timeout_s, arm.python, started, env)
    except HarnessError as exc:
        return f"{arm.name} arm: {exc}"
    if rec["status"] != "ok":
        failure: Mapping[str, object] = rec.get("failure") or {}
        return (f"{arm.name} arm ({arm.code.commit[:10]}): the run failed in stage {failure.get('stage')!r} "
                f"({failure.get('kind')}: {failure.get('message')})")
    into.append(rec)
    return None
