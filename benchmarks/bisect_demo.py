"""`t4rec-bench bisect` names a planted slowdown's commit in a scratch repository; probes, pairs, time.

Builds a git repository under --work from this repository's HEAD tree (``git archive HEAD``): --commits
commits, of which commit --plant-at plants a slowdown in the smoke profile of its harness/profiles.toml
(``faults.slowdown_stage``, ``faults.slowdown_fraction``: the fault travels with that commit's code, as any
real regression does, since a commit's run never takes faults from the command line). Every other commit
changes only a notes file. Then runs ``t4rec-bench bisect <first> <last> --repo <scratch>`` on the smoke
profile and prints each probe (the commit, its verdict, the change and its interval, the pairs it took), the
pairs in all, and the time. For a quiet machine:

    .venv/bin/python benchmarks/bisect_demo.py                      # [gate] policies as committed
    .venv/bin/python benchmarks/bisect_demo.py --fraction 0.2       # a smaller plant: more pairs per probe

tests/commands/test_bisect.py builds its scratch repository with ``scratch_repo`` (below).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@localhost", "GIT_COMMITTER_NAME": "demo",
           "GIT_COMMITTER_EMAIL": "demo@localhost"}


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                         env={**os.environ, **GIT_ENV})
    return out.stdout.strip()


def scratch_repo(path: Path, commits: int, plant_at: int, stage: str = "etl", fraction: float = 2.0,
                 profile: str = "smoke") -> list[str]:
    """A git repository at ``path``: this repository's HEAD tree, then ``commits - 1`` more commits, the
    ``plant_at``-th of which (1-based after the first) slows ``stage`` by ``fraction`` of its own time in
    ``profile``. Its commits, oldest first."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(path, filter="data")  # our own repository's tree
    git(path, "init", "-q", "-b", "main")
    out = [_commit(path, "scratch 0: this repository's HEAD tree")]
    for i in range(1, commits):
        if i == plant_at:
            _plant(path / "harness" / "profiles.toml", profile, stage, fraction)
            out.append(_commit(path, f"scratch {i}: plant a slowdown ({stage} spins {fraction:g}x its time)"))
        else:
            notes = path / "BISECT_DEMO_NOTES.txt"
            notes.write_text((notes.read_text() if notes.exists() else "") + f"commit {i}: nothing measured changes\n")
            out.append(_commit(path, f"scratch {i}: notes only"))
    return out


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def _plant(profiles: Path, profile: str, stage: str, fraction: float) -> None:
    text, header = profiles.read_text(), f"[{profile}]\n"
    if header not in text:
        raise SystemExit(f"no [{profile}] table in {profiles}")
    planted = f'faults.slowdown_stage = "{stage}"  # bisect_demo\nfaults.slowdown_fraction = {fraction}\n'
    profiles.write_text(text.replace(header, header + planted, 1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--commits", type=int, default=8, help="commits of the scratch repository (default 8)")
    p.add_argument("--plant-at", type=int, default=4, help="the commit that plants the slowdown (default 4)")
    p.add_argument("--stage", default="etl", help="the stage slowed (default etl)")
    p.add_argument("--fraction", type=float, default=2.0, help="slowdown, a fraction of the stage's time (default 2)")
    p.add_argument("--work", default="/tmp/t4rec-bisect-demo", help="scratch folder (recreated)")
    p.add_argument("bisect_args", nargs="*", help="more `t4rec-bench bisect` options, after --, e.g. -- --mode duet")
    args = p.parse_args(argv)
    if not 1 <= args.plant_at < args.commits:
        p.error("--plant-at must name a commit after the first")
    work = Path(args.work)
    commits = scratch_repo(work / "repo", args.commits, args.plant_at, args.stage, args.fraction)
    out = work / "bisect.json"
    cmd = [sys.executable, "-m", "harness.cli", "bisect", commits[0], commits[-1], "--repo", str(work / "repo"),
           "--profile", "smoke", "--device", "cpu", "--out", str(out), *args.bisect_args]
    print(f"planted at commit {args.plant_at}: {commits[args.plant_at][:10]}\n$ {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False).returncode
    seconds = time.monotonic() - t0
    if not out.is_file():
        print(f"bisect exited {rc} without a result")
        return 1
    show(json.loads(out.read_text()), commits, args.plant_at, rc, seconds)
    return 0


def show(doc: dict, commits: list[str], plant_at: int, rc: int, seconds: float) -> None:
    index = {c: i for i, c in enumerate(commits)}
    rows = [("GOOD -> BAD", doc["total"])] + [(f"probe {k + 1}: {index[s['commit']]} vs GOOD", s)
                                             for k, s in enumerate(doc["probes"])]
    if doc["culprit"]:
        rows.append((f"own: {index[doc['culprit']['commit']]} vs its parent", doc["culprit"]["own"]))
    print(f"\n{'duel':<24}{'verdict':>11}{'change':>9}{'interval':>20}{'pairs':>7}")
    for label, d in rows:
        interval = f"[{_pct(d['low_pct'])}, {_pct(d['high_pct'])}]"
        print(f"{label:<24}{d['state']:>11}{_pct(d['change_pct']):>9}{interval:>20}{d['pairs']:>7}")
    reused = bool(doc["culprit"]) and doc["culprit"]["parent"] == doc["good"]  # its own duel is a probe's
    pairs = sum(d["pairs"] for _, d in (rows[:-1] if reused else rows))
    named = doc["culprit"]["commit"] if doc["culprit"] else None
    print(f"outcome {doc['outcome']} (exit {rc}): {'culprit ' + str(index.get(named)) if named else 'no culprit'}"
          f" ({'the planted commit' if named == commits[plant_at] else 'NOT the planted commit'}); "
          f"{len(doc['probes'])} probes, {pairs} pairs, {seconds:.0f} s")
    if doc["reproduce"]:
        print(f"reproduce: {doc['reproduce']}")


def _pct(x) -> str:
    return "-" if x is None else f"{x:+.1f}%"


if __name__ == "__main__":
    sys.exit(main())
