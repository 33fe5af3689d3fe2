"""The nightly's in-session ratio names a planted 5% step, and shows no step on an unchanged series.

Builds two scratch git repositories under /tmp from this repository's HEAD tree (plus the files
named by --overlay, by default the nightly pairing's own: harness/nightly/pairs.py and
benchmarks/ratios.py, in case they are not committed yet):

- "planted": --commits commits; commit --step-at plants the slowdown in the smoke profile of its
  harness/profiles.toml (``faults.slowdown_stage = "train"``, ``faults.slowdown_fraction = F``), so
  the slowdown travels with the commit's code as any real regression does (a reference run never
  takes faults from the command line). F makes the pipeline's total wall time step by --step-pct:
  F = step * total / train, from the train share the first night measured. Every other commit
  changes only a notes file.
- "unchanged": --commits - 1 commits that change only a notes file.

Each night is what ``t4rec-bench nightly`` runs under asv (benchmarks/ratios.py): the newer commit's
own code (its checkout, ``python -m harness.nightly.pairs``) runs up to --pairs pairs with the previous
commit, stopping once decided, and the night's ratio per gated time is the geometric mean of the pair
ratios with the sequential gate's bounds. Then ``nightly_pairs.steps`` names the nights whose ratio
is significantly above 1 by more than [nightly] step_pct (harness/policies.toml), each night alone.

    .venv/bin/python benchmarks/nightly_step_demo.py --mode duet   # smoke, [nightly] max_pairs
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
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.nightly import pairs as nightly_pairs

OVERLAY = ("harness/nightly/pairs.py", "benchmarks/ratios.py")
SHOWN = ("total.wall_s", "train.wall_s", "etl.wall_s", "imports.wall_s", "evaluate.wall_s", "total.cpu_s")


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                         env={**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@localhost",
                              "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@localhost"})
    return out.stdout.strip()


def extract(repo: Path, rev: str, dest: Path) -> None:
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")  # our own repository's tree


def scratch_repo(path: Path, overlay) -> str:
    """A git repository at ``path`` holding this repository's HEAD tree plus ``overlay``; its commit."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    extract(ROOT, "HEAD", path)
    for rel in overlay:
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, path / rel)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "scratch: this repository's HEAD tree")
    return git(path, "rev-parse", "HEAD")


def commit_notes(repo: Path, i: int) -> str:
    notes = repo / "NIGHTLY_DEMO_NOTES.txt"
    notes.write_text((notes.read_text() if notes.exists() else "") + f"night {i}: nothing measured changes\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"scratch {i}: notes only")
    return git(repo, "rev-parse", "HEAD")


def commit_slowdown(repo: Path, i: int, profile: str, fraction: float, step_pct: float) -> str:
    """Plant ``fraction`` of train's time as a sleep after it, in ``profile``'s table of profiles.toml."""
    path = repo / "harness" / "profiles.toml"
    text = path.read_text()
    header = f"[{profile}]\n"
    assert header in text, f"no [{profile}] table in {path}"
    planted = (f'faults.slowdown_stage = "train"  # nightly_step_demo: +{step_pct:g}% of the total wall time\n'
               f"faults.slowdown_fraction = {fraction:.4f}\n")
    path.write_text(text.replace(header, header + planted, 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"scratch {i}: plant a {step_pct:g}% slowdown (train sleeps {fraction:.1%})")
    return git(repo, "rev-parse", "HEAD")


def night(repo: Path, previous: str, commit: str, args, work: Path) -> dict:
    """One night: ``commit``'s own code runs up to ``args.pairs`` pairs with ``previous``; its JSON."""
    code = work / f"code-{commit[:10]}"
    shutil.rmtree(code, ignore_errors=True)
    code.mkdir(parents=True)
    extract(repo, commit, code)
    out = work / f"night-{commit[:10]}.json"
    cmd = [sys.executable, "-m", "harness.nightly.pairs", "--previous", previous, "--repo", str(repo),
           "--profile", args.profile, "--out", str(out)] + (["--pairs", str(args.pairs)] if args.pairs else [])
    if args.mode:
        cmd += ["--mode", args.mode]
    env = {**os.environ, "PYTHONPATH": str(code)}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, check=False, cwd=code, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        sys.exit(f"night {commit[:10]} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    doc = json.loads(out.read_text())
    doc.update(commit=commit, seconds=time.monotonic() - t0)
    shutil.rmtree(code, ignore_errors=True)
    return doc


def show(title: str, nights: list[dict], labels: dict[str, str]) -> list[nightly_pairs.Step]:
    print(f"\n== {title}: in-session ratio current / previous per night "
          f"(geometric mean of the pairs; the sequential gate's anytime interval) ==")
    print(f"{'night':<38}" + "".join(f"{m:>24}" for m in SHOWN))
    series = []
    for doc in nights:
        ratios = {k: nightly_pairs.ratio_from_dict(v) for k, v in doc["ratios"].items()}
        cells = []
        for m in SHOWN:
            r = ratios.get(m)
            cells.append(f"{r.ratio:7.3f} ({r.low:.3f}..{r.high:.3f})" if r else "-")
        label = f"{doc['commit'][:8]} vs {doc['previous'][:8]} {labels.get(doc['commit'], '')}"
        print(f"{label:<38}" + "".join(f"{c:>24}" for c in cells))
        series += [nightly_pairs.Night(doc["commit"], r, doc["previous"]) for r in ratios.values()]
    for doc in nights:
        v = doc["values"]["total.wall_s"]
        print(f"  {doc['commit'][:8]}: total.wall_s pair ratios "
              + ", ".join(f"{c / p:.3f}" for p, c in zip(v["previous"], v["current"]))
              + " (seconds: previous " + ", ".join(f"{x:.2f}" for x in v["previous"])
              + "; current " + ", ".join(f"{x:.2f}" for x in v["current"]) + ")")
    found = nightly_pairs.steps(series)
    print(f"{len(nights)} nights, " + ", ".join(str(d["pairs"]) for d in nights) + f" {nights[0]['mode']} pairs, "
          f"{sum(d['seconds'] for d in nights):.0f} s")
    for step in found:
        print(f"named step: {step.line()} {labels.get(step.commit, '')}")
    if not found:
        print(f"no step named (no night's ratio significantly above 1 by more than "
              f"{nightly_pairs.settings().step_pct:g}%)")
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--commits", type=int, default=4, help="commits of the planted series (default 4: 3 nights)")
    p.add_argument("--step-at", type=int, default=2, help="index of the commit that plants the step (default 2)")
    p.add_argument("--step-pct", type=float, default=5.0, help="planted step of total.wall_s, percent (default 5)")
    p.add_argument("--pairs", type=int, help="most pairs per night (default: [nightly] max_pairs)")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--mode", default="", help="reference.interleaved's mode (default: its own)")
    p.add_argument("--overlay", action="append", default=None,
                   help=f"working-tree files copied over the HEAD tree (default {', '.join(OVERLAY)})")
    p.add_argument("--work", default="/tmp/t4rec-nightly-step-demo", help="scratch folder (recreated)")
    p.add_argument("--no-unchanged", action="store_true", help="skip the unchanged series")
    args = p.parse_args(argv)
    if not 1 <= args.step_at < args.commits:
        p.error("--step-at must name a commit after the first")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    overlay = args.overlay or list(OVERLAY)
    t0 = time.monotonic()

    repo = work / "planted"
    commits = [scratch_repo(repo, overlay)]
    labels, nights = {}, []
    for i in range(1, args.commits):
        if i == args.step_at:
            base = nights[0]["values"] if nights else None
            if base is None:  # the step is the first night: measure the train share alone first
                share = 0.15
            else:
                share = mean(base["train.wall_s"]["previous"]) / mean(base["total.wall_s"]["previous"])
            fraction = args.step_pct / 100 / share
            commits.append(commit_slowdown(repo, i, args.profile, fraction, args.step_pct))
            labels[commits[-1]] = (f"<- planted: train +{fraction:.0%} "
                                   f"(train {share:.0%} of total: total +{args.step_pct:g}%)")
        else:
            commits.append(commit_notes(repo, i))
        nights.append(night(repo, commits[-2], commits[-1], args, work))
        r = nights[-1]["ratios"].get("total.wall_s") or {}
        print(f"night {i}: {commits[-1][:8]} vs {commits[-2][:8]}: total.wall_s ratio {r.get('ratio', float('nan')):.3f} "
              f"({nights[-1]['seconds']:.0f} s)", flush=True)
    planted = show(f"planted {args.step_pct:g}% step at commit {args.step_at} ({commits[args.step_at][:8]})",
                   nights, labels)
    ok = any(s.commit == commits[args.step_at] and s.measurement == "total.wall_s" for s in planted)
    wrong = sorted({s.commit[:8] for s in planted if s.commit != commits[args.step_at]})
    print(f"planted step {'NAMED' if ok else 'NOT named'} on total.wall_s"
          + (f"; other commits named: {', '.join(wrong)}" if wrong else "; no other commit named"))

    if not args.no_unchanged:
        repo = work / "unchanged"
        commits = [scratch_repo(repo, overlay)]
        unchanged = []
        for i in range(1, args.commits - 1):
            commits.append(commit_notes(repo, i))
            unchanged.append(night(repo, commits[-2], commits[-1], args, work))
            r = unchanged[-1]["ratios"].get("total.wall_s") or {}
            print(f"unchanged night {i}: {commits[-1][:8]} vs {commits[-2][:8]}: total.wall_s ratio "
                  f"{r.get('ratio', float('nan')):.3f} ({unchanged[-1]['seconds']:.0f} s)", flush=True)
        flat = show("unchanged series", unchanged, {})
        print(f"unchanged series: {'no step named' if not flat else f'{len(flat)} false step(s)'}")
        ok = ok and not flat
    print(f"\ndemo: {time.monotonic() - t0:.0f} s in all; scratch repositories under {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
