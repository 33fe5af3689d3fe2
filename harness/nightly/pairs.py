"""The nightly's drift-free pairing: each night the newest commit runs in pairs with the previous
nightly commit, in one session, and the in-session ratio per measurement is what asv tracks.

A nightly result measured alone is judged against a neighbour measured in another session, on a
host that drifts between sessions (8-23% here, harness/pairing/reference.py), so asv.conf.json judges
nightly times at 20%. A night's ratio ``current / previous`` is measured inside one session, pair by
pair (both sides of a pair at the same time when ``interleaved`` runs duets), so the drift cancels:
a step in the underlying level shows as the one night whose ratio differs from 1, and every other
night reads 1 within the pair noise. Such a ratio is its own paired comparison, so naming a step
needs no statistics across nights (``steps``).

Per gated measurement and night: the geometric mean of the pair ratios, exp(mean d) with
d_i = log(current_i / previous_i), and the bounds of the sequential gate's anytime-valid confidence
sequence (harness/judge/sequential.py) at the primary's level: a night looks after every pair from
[nightly] min_pairs on and stops once total.wall_s is decided (a step beyond [nightly] step_pct, or
none as large as equivalence_pct), so the bound it ends on is valid whenever it stopped.

Pure logic (ratios, the choice of the previous commit, steps) plus the duet run (``run_pairs``).
benchmarks/ratios.py tracks the ratios under asv; ``t4rec-bench nightly --steps`` names the steps
in asv's results; benchmarks/nightly_step_demo.py shows a planted 5% step on a scratch repository.
Run as ``python -m harness.nightly.pairs --previous REV`` it pairs the current code with REV and
prints the ratios as JSON (what the demo runs in each commit's checkout).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import vcs
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError
from harness.judge.rules import gated_times

# The nightly's sizes and levels are policies.toml's [nightly] table (``settings``); its test is the
# sequential gate's (harness/judge/sequential.py) on the primary's policy: a night stops once its named
# measurement is decided.
GATED = gated_times()  # the gated times of the committed policies.toml: what a night's ratios cover
ARM = "previous"  # the arm's name in interleaved(): the previous nightly commit's code

# Set by `t4rec-bench nightly` for benchmarks/ratios.py.
PREVIOUS_VAR = "T4REC_BENCH_PREVIOUS_COMMIT"  # the previous nightly commit (full sha)
REPO_VAR = "T4REC_BENCH_REPO"  # the repository it is extracted from
PAIRS_VAR = "T4REC_BENCH_PAIRS"  # pairs per night; 0: the ratio benchmarks are skipped
MODE_VAR = "T4REC_BENCH_PAIR_MODE"  # a mode of harness/judge/policy.py MODES; empty: the gate's ([gate] mode)


def night_pairs(text: str | int) -> int:
    """The pairs per night ``text`` asks for (``--pairs``, $T4REC_BENCH_PAIRS): ValueError unless it is 0
    (no pairs) or at least 2 (one pair has no interval)."""
    n = text if isinstance(text, int) else int(text) if text.strip().isdigit() else -1
    if n < 0 or n == 1:
        shown = repr(text) if isinstance(text, str) else text  # a text as typed, quoted; an option's number bare
        raise ValueError(f"{shown}: 0 (no pairs) or at least 2 (one pair has no interval)")
    return n


@dataclass(frozen=True)
class Settings:
    """policies.toml [nightly], with the primary's level and the sequential test's design_pairs ([gate])."""

    max_pairs: int  # pairs per night at most
    min_pairs: int  # fewest pairs before a night may stop
    step_pct: float  # a night names a step when its ratio exceeds 1 by this, significantly
    equivalence_pct: float  # a night stops "no step" once a step this large is ruled out
    named: tuple  # the measurements that name steps
    alpha: float  # one-sided level of each bound (the gate's primary level)
    design: int  # the pairs the sequential test is tuned for ([gate] design_pairs)


def settings(policies_path=None) -> Settings:
    from harness.judge import policy

    pols = policy.load(policies_path)
    table = policy.nightly_table(policies_path)
    return Settings(int(table["max_pairs"]), int(table["min_pairs"]), float(table["step_pct"]),
                    float(table["equivalence_pct"]), tuple(table["named"]), pols.gate.alpha_primary,
                    pols.gate.design_pairs)


@dataclass(frozen=True)
class Ratio:
    """The in-session ratio current / previous of one measurement over one night's pairs."""

    name: str
    ratio: float  # geometric mean of the pair ratios
    low: float  # lower bound of the confidence sequence (one-sided at the primary's alpha)
    high: float  # upper bound, likewise
    n: int  # pairs
    sd_log: float  # sd of the pair log ratios (nan with one pair)

    @property
    def change_pct(self) -> float:
        return 100.0 * (self.ratio - 1.0)


def ratio(name: str, previous, current, s: Settings | None = None) -> Ratio | None:
    """The paired ratio of ``current`` over ``previous`` (values of the same pairs, in pair order) with
    the sequential gate's bounds at ``s`` (default: ``settings()``). None without a pair of positive
    values."""
    from harness.judge import sequential as seq

    s = s or settings()
    d = seq.log_ratios(list(previous), list(current)) if previous and all(
        isinstance(v, (int, float)) for v in list(previous) + list(current)) else None
    cs = seq.sequence(d, s.alpha, s.design) if d else None
    if cs is None:
        return None
    return Ratio(name, math.exp(cs.mean), math.exp(cs.low), math.exp(cs.high), cs.n,
                 cs.sample_sd if cs.sample_sd is not None else math.nan)


def state(r: Ratio, s: Settings, threshold_pct: float | None = None) -> str:
    """The gate's decision (harness/judge/sequential.py ``decide``) on a night's ratio, a time (higher is
    worse): regressed (a step beyond ``threshold_pct``, default step_pct, whose bound clears 1), improved
    (the mirror image), ok (a step of equivalence_pct ruled out) or undecided."""
    from harness.judge import sequential as seq

    threshold = s.step_pct if threshold_pct is None else threshold_pct
    return seq.decide_ratio(r.ratio, r.low, threshold, max(s.equivalence_pct, threshold))


def decided(r: Ratio, s: Settings) -> bool:
    """Whether a night can stop on ``r``: a step named (``steps``), or none as large as equivalence_pct."""
    return state(r, s) != "undecided"


def _values(rec: RunRecord) -> dict[str, float]:
    return {m["name"]: m["value"] for m in rec["measurements"] if isinstance(m.get("value"), (int, float))}


def pair_ratios(previous_records, current_records, names=GATED, s: Settings | None = None) -> dict[str, Ratio]:
    """Ratios per measurement of ``names`` from run records in pair order (pair i: previous_records[i],
    current_records[i]); a measurement missing from any record is left out."""
    n = min(len(previous_records), len(current_records))
    prev = [_values(r) for r in previous_records[:n]]
    cur = [_values(r) for r in current_records[:n]]
    out = {}
    for name in names:
        if n and all(name in p for p in prev) and all(name in c for c in cur):
            r = ratio(name, [p[name] for p in prev], [c[name] for c in cur], s)
            if r is not None:
                out[name] = r
    return out


# ---- which commit is the previous one ------------------------------------------------------------

def resolve(repo, rev: str) -> str | None:
    """The full sha of ``rev`` in ``repo``, None when it names no commit (harness/vcs.py)."""
    return vcs.Repo(repo).find(rev)


def is_ancestor(repo, older: str, newer: str) -> bool:
    return vcs.Repo(repo).is_ancestor(older, newer)


def benchmarked_commits(results_dir, machine: str) -> set[str]:
    """Full shas of the commits asv has results for on ``machine`` (read from its result files)."""
    folder = Path(results_dir) / machine
    commits = set()
    for path in folder.glob("*.json") if folder.is_dir() else ():
        if path.name == "machine.json":
            continue
        try:
            sha = json.loads(path.read_text()).get("commit_hash")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(sha, str) and sha:
            commits.add(sha)
    return commits


def previous_nightly_commit(repo, benchmarked, head: str = "HEAD") -> str | None:
    """The commit tonight's ``head`` is paired with: the newest strict ancestor of ``head`` that has
    results (``benchmarked``: full shas), else ``head``'s first parent (the first night), else None
    (a root commit: nothing to pair with)."""
    head_sha = resolve(repo, head)
    if head_sha is None:
        raise HarnessError(f"{head}: not a commit in {repo}")
    if benchmarked:
        for sha in vcs.Repo(repo).line(head_sha)[1:]:
            if sha in benchmarked:
                return sha
    return resolve(repo, f"{head_sha}^")


def partner(repo, commit: str, previous: str | None) -> str | None:
    """The commit that ``commit`` is paired with when asv benchmarks it and the nightly's previous
    commit is ``previous``. When asv runs several new commits in one night (NEW after missed nights,
    or an explicit --range), each is paired with its first parent unless ``previous`` is newer, so
    that every commit's ratio is its own step: the first parent when it is ``previous`` or descends
    from it (or ``previous`` is unset or unrelated), else ``previous``. None when ``commit`` is
    ``previous`` itself (re-running the previous night) or a root commit."""
    commit_sha = resolve(repo, commit)
    if commit_sha is None:
        raise HarnessError(f"{commit}: not a commit in {repo}")
    previous_sha = resolve(repo, previous) if previous else None
    if previous_sha == commit_sha:
        return None
    parent = resolve(repo, f"{commit_sha}^")
    if parent and (previous_sha is None or is_ancestor(repo, previous_sha, parent)):
        return parent
    if previous_sha and is_ancestor(repo, previous_sha, commit_sha):
        return previous_sha
    return parent


# ---- the duet run -----------------------------------------------------------------------------------

def choose_mode(config, mode: str | None) -> str:
    """The mode the pairs run in: ``mode``, else the gate's ([gate] mode); a duet the CPUs cannot hold
    (two sides x the profile's threads) falls back to alternating, and says so on stderr. This module
    and harness/pairing/reference.py always come from the same commit's checkout."""
    from harness.judge import policy
    from harness.pairing import reference

    used, why = reference.pairing(config, 2, mode or policy.load().gate.mode)
    if why:
        print(f"nightly pairs: {why}", file=sys.stderr)
    return used


def run_pairs(config, previous: str, repo, pairs: int | None = None, mode: str | None = None,
              progress=None, python: str | None = None
              ) -> tuple[dict[str, Ratio], list[RunRecord], list[RunRecord], str]:
    """``pairs`` pairs of the current code and ``previous`` (extracted from ``repo``), by
    reference.interleaved; returns (ratios, previous records, current records, the mode used).

    ``mode``: interleaved()'s mode (duet: both sides of a pair at once); None: the gate's
    (``choose_mode``). The rounds stop once the named measurements are decided (``decided``). The
    arm runs in this interpreter's environment (``python``): the ratio is the code's change.
    HarnessError when a run failed.
    """
    from harness.pairing import reference

    s = settings()
    pairs = pairs or s.max_pairs
    used = choose_mode(config, mode)

    def stop(current, arms) -> bool:  # the sequential gate's look, on the named measurements
        if len(current) < s.min_pairs:
            return False
        ratios = pair_ratios(arms[ARM], current, s.named, s)
        return bool(ratios) and all(decided(r, s) for r in ratios.values())

    with tempfile.TemporaryDirectory(prefix="t4rec-bench-previous-") as tmp:
        ref = reference.checkout(previous, Path(tmp) / "code", Path(repo))
        arm = reference.Arm(ARM, ref, python or sys.executable)
        current, arms, dropped = reference.interleaved(config, pairs, [arm], progress=progress,
                                                       command=f"nightly pairs vs {ref.commit[:10]}", mode=used,
                                                       stop=stop)
    if current and current[-1]["status"] != "ok":
        f: Mapping[str, object] = current[-1].get("failure") or {}
        raise HarnessError(f"current run failed in stage {f.get('stage')!r} ({f.get('kind')}): {f.get('message')}")
    if dropped:
        raise HarnessError(dropped)
    previous_records = arms[ARM]
    return pair_ratios(previous_records, current, GATED, s), previous_records, current, used


# ---- steps ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Night:
    """One night's ratio of one measurement: ``commit`` paired with ``previous``."""

    commit: str
    ratio: Ratio
    previous: str = ""


@dataclass(frozen=True)
class Step:
    commit: str
    previous: str
    measurement: str
    ratio: float
    low: float
    high: float
    n: int
    direction: str  # "regressed" (slower: ratio above 1) or "improved"

    def line(self) -> str:
        return (f"{self.commit[:10]}: {self.measurement} {self.direction} {100 * (self.ratio - 1):+.1f}% "
                f"(ratio {self.ratio:.3f}, anytime interval {self.low:.3f}..{self.high:.3f}, "
                f"{self.n} pairs vs {self.previous[:10] or '?'})")


def steps(series, threshold_pct: float | None = None, improvements: bool = False, names=()) -> list[Step]:
    """The nights of ``series`` (Night items, any order; measurements of ``names``, None: all) whose
    ratio names a step:
    the gate's decision (``state``) is regressed: the ratio exceeds 1 by ``threshold_pct`` and its one-sided
    lower bound clears 1; with ``improvements`` also the mirror image (improved). Each night is its own paired
    comparison, so a night is judged alone: no statistics across nights."""
    s = settings()
    threshold_pct = s.step_pct if threshold_pct is None else threshold_pct
    names = s.named if names == () else names
    out = []
    for night in series:
        r = night.ratio
        if (names is not None and r.name not in names) or 0 < r.n < s.min_pairs:
            continue  # n = 0: asv's results do not say; the night's run kept to min_pairs
        direction = state(r, s, threshold_pct)
        if direction not in ("regressed", "improved") or (direction == "improved" and not improvements):
            continue
        out.append(Step(night.commit, night.previous, r.name, r.ratio, r.low, r.high, r.n, direction))
    return out


def ratio_to_dict(r: Ratio) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(r).items()}


def ratio_from_dict(d: dict) -> Ratio:
    return Ratio(d["name"], d["ratio"], d["low"] or 0.0, math.inf if d["high"] is None else d["high"], d["n"],
                 math.nan if d["sd_log"] is None else d["sd_log"])


# ---- asv results -> nights ---------------------------------------------------------------------------

def asv_nights(results_dir, repo=None, machine: str | None = None) -> dict[str, list[Night]]:
    """Nights per (context, profile) from asv's results of benchmarks/ratios.py: the tracked ratio and
    its bounds of each gated measurement, by commit in history order."""
    from harness.judge import history

    series, _ = history.asv_series(results_dir, order=vcs.order(repo))
    parts: dict[tuple, dict[str, float]] = {}
    for s in series:
        name, _, params = s.metric.partition("(")
        if not name.startswith("ratios.") or (machine and not s.context.startswith(f"asv:{machine}/")):
            continue
        kind = name.rsplit(".", 1)[-1]  # track_ratio, track_ratio_low, track_ratio_high
        args = [a.strip().strip("'\"") for a in params.rstrip(")").split(",")]
        if len(args) != 2:
            continue
        profile, measurement = args
        for i, p in enumerate(s.points):
            if p.value is not None and p.commit:
                key = (s.context, profile, measurement, i, p.commit)
                parts.setdefault(key, {})[kind] = p.value
    out: dict[str, list[Night]] = {}
    for (context, profile, measurement, _, commit), v in sorted(parts.items()):
        if "track_ratio" in v:
            r = Ratio(measurement, v["track_ratio"], v.get("track_ratio_low", 0.0),
                      v.get("track_ratio_high", math.inf), 0, math.nan)
            out.setdefault(f"{context} {profile}", []).append(Night(commit, r))
    return out


# ---- python -m harness.nightly.pairs ------------------------------------------------------------------

def main(argv=None) -> int:
    import argparse

    from harness.config import build_config

    p = argparse.ArgumentParser(prog="python -m harness.nightly.pairs",
                                description="pair the current code with a previous commit; print the ratios as JSON")
    p.add_argument("--previous", required=True, help="the previous commit (a revision of --repo)")
    p.add_argument("--repo", default=".", help="repository holding --previous")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--device", default="cpu")
    p.add_argument("--pairs", type=int, help="most pairs (default: [nightly] max_pairs in harness/policies.toml)")
    p.add_argument("--mode", default=os.environ.get(MODE_VAR) or None,
                   help="a pairing mode of harness/judge/policy.py MODES (default: [gate] mode in "
                        "harness/policies.toml)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    config = build_config(args.profile, {"device": args.device})
    ratios, prev, cur, used = run_pairs(config, args.previous, args.repo, args.pairs, args.mode)
    doc = {"commit": (cur[0]["environment"].get("git") or {}).get("commit") if cur else None,
           "previous": resolve(args.repo, args.previous), "profile": args.profile, "pairs": len(cur),
           "mode": used, "ratios": {k: ratio_to_dict(v) for k, v in ratios.items()},
           "values": {name: {"previous": [_values(r).get(name) for r in prev],
                             "current": [_values(r).get(name) for r in cur]} for name in GATED}}
    text = json.dumps(doc, indent=1)
    if args.out:
        from harness.documents import atomic

        atomic.write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
