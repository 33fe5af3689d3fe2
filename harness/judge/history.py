"""Measurement histories for change detection: from the harness's history folder and from asv results.

``load_records`` reads every run record in a folder (skipping, with a reason, any file that is not
a readable current record), ``record_series`` turns them into one series per measurement and
comparable context, and ``asv_series`` does the same for asv's results folder. The series go to
harness.judge.changepoints. Nothing here re-measures.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from harness.documents import asv_config
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError
from harness.judge.changepoints import Point, Series

ASV_DEFAULT_THRESHOLD = 0.05  # asv's own default when no regressions_thresholds pattern matches


@dataclass(frozen=True)
class Loaded:
    records: tuple[RunRecord, ...]  # valid run records, oldest first (by started_at)
    skipped: tuple[tuple[str, str], ...]  # (path, why) for every file that could not be used


def _started(rec: RunRecord) -> dt.datetime:
    when = dt.datetime.fromisoformat(rec["started_at"].replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


REFERENCE_DIR = "reference"  # where `check` files the in-session reference's records (harness/commands/check.py)


def load_records(folder: str | Path) -> Loaded:
    """Every run record under ``folder`` (recursively, except ``reference/``: the in-session reference's
    runs are another commit's, not points of this code's series), sorted by start time. Never raises
    for a bad file."""
    from harness.documents import record

    folder = Path(folder)
    records, skipped = [], []
    for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
        if REFERENCE_DIR in path.relative_to(folder).parts[:-1]:
            continue
        try:
            rec = record.load(path)
            _started(rec)
        except HarnessError as exc:
            skipped.append((str(path), str(exc)))
            continue
        except (OSError, ValueError, KeyError, TypeError) as exc:
            skipped.append((str(path), f"{path}: unreadable ({exc})"))
            continue
        records.append(rec)
    records.sort(key=_started)
    return Loaded(tuple(records), tuple(skipped))


def in_commit_order(records, order: dict[str, int] | None) -> tuple[RunRecord, ...]:
    """``records`` ordered by their commits' position in the repository (harness/vcs.py ``order``), runs of
    one commit by start time; unchanged (start-time order) unless ``order`` knows every commit.

    Start time is not commit order when asv benchmarks a range: it runs the newest commit first.
    """
    commits = [(r["environment"].get("git") or {}).get("commit") for r in records]
    if not order or not all(c in order for c in commits):
        return tuple(records)
    return tuple(sorted(records, key=lambda r: (order[r["environment"]["git"]["commit"]], _started(r))))


def context_of(rec: RunRecord) -> str:
    """Records are comparable when profile, machine class and workload agree (the workload hash
    excludes injected faults, so a planted slowdown stays in its series)."""
    machine = rec["environment"].get("machine_class", "?")
    return f"history:{rec['profile']}@{machine}/{rec['workload_hash'][:8]}"


def _point(rec: RunRecord, value: float | None) -> Point:
    git = rec["environment"].get("git") or {}
    label = rec["run_id"] + (" (dirty tree)" if git.get("dirty") else "") + (" (faults)" if rec.get("faults") else "")
    return Point(value=value, commit=git.get("commit"), label=label, when=rec["started_at"])


def practical_threshold(policy) -> tuple[float, float]:
    """(percent, absolute) smallest step worth reporting, from the measurement's comparison policy
    (harness/policies.toml): the practical threshold of the significance rule; for the exact rules
    (deterministic metrics, loss, counts) any step beyond the exact tolerance."""
    if policy.rule in ("significance", "report-only"):  # report-only entries keep their thresholds
        return policy.threshold_pct, policy.min_change
    return 0.0, policy.exact_tolerance


def record_series(records, policies=None) -> list[Series]:
    """One series per (context, measurement name) over successful runs, in the records' order.

    A run that lacks a measurement another run of its context has contributes a missing point.
    ``policies`` (harness.judge.policy.PolicySet, default the committed file) sets each threshold.
    """
    from harness.judge import policy as policymod

    policies = policies or policymod.load()
    groups: dict[str, list[RunRecord]] = {}
    for rec in records:
        if rec["status"] == "ok":
            groups.setdefault(context_of(rec), []).append(rec)
    out = []
    for context, recs in groups.items():
        by_name = [{m["name"]: m for m in r["measurements"]} for r in recs]
        names = sorted({n for b in by_name for n in b})
        for name in names:
            first = next(b[name] for b in by_name if name in b)
            points = tuple(_point(r, b[name]["value"] if name in b else None)
                           for r, b in zip(recs, by_name, strict=True))
            pct, floor = practical_threshold(policies.for_measurement(name, first["kind"]))
            out.append(Series(name, context, first["unit"], first["higher_is_better"], points, pct, floor))
    return out


# ---- asv results -------------------------------------------------------------------------------

def asv_threshold_pct(entry_name: str, thresholds: dict | None) -> float:
    """The threshold asv's regressions page applies to ``entry_name``: the largest of the
    ``regressions_thresholds`` whose pattern matches (re.match), else asv's 5%; as percent."""
    matched = [float(v) for pattern, v in (thresholds or {}).items() if re.match(pattern, entry_name)]
    return 100.0 * (max(matched) if matched else ASV_DEFAULT_THRESHOLD)


def _entry_names(name: str, params: list) -> list[str]:
    import itertools

    if not params:
        return [name]
    return [f"{name}({', '.join(combo)})" for combo in itertools.product(*params)]


def _load_asv_results(results_dir: Path) -> tuple[list, list[tuple[str, str]]]:
    from asv.results import Results, iter_results_paths

    loaded, skipped = [], []
    for root, filename, machine in iter_results_paths(str(results_dir)):
        path = Path(root) / filename
        try:
            loaded.append(Results.load(str(path), machine_name=machine))
        except Exception as exc:  # asv raises several types; any bad file is skipped
            skipped.append((str(path), f"{path}: not a readable asv result ({type(exc).__name__}: {exc})"))
    return loaded, skipped


def asv_series(results_dir: str | Path, thresholds: dict | None = None,
               order: dict[str, int] | None = None) -> tuple[list[Series], tuple[tuple[str, str], ...]]:
    """One series per (machine, environment, benchmark with parameters) from asv's results folder.

    Commits are ordered by ``order`` (harness/vcs.py ``order``) when it knows all of them, else by commit
    date. Results of a benchmark version other than the one in ``benchmarks.json`` are left out, as
    ``asv publish`` does. Every asv value is lower-is-better (benchmarks/ tracks reciprocals).
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return [], ()
    benchmarks = asv_config.benchmarks(results_dir)
    loaded, skipped = _load_asv_results(results_dir)
    order = order or {}
    use_order = bool(loaded) and all(r.commit_hash in order for r in loaded)
    loaded.sort(key=lambda r: (order[r.commit_hash] if use_order else 0, r.date or 0))
    points: dict[tuple[str, str], list[Point]] = {}
    for res in loaded:
        context = f"asv:{res.params.get('machine', '?')}/{res.env_name}"
        for key in res.get_all_result_keys():
            info = benchmarks.get(key, {})
            if benchmarks and (key not in benchmarks or res.benchmark_version.get(key) != info.get("version")):
                continue
            params = res.get_result_params(key) or []
            values = res.get_result_value(key, params)
            for entry, value in zip(_entry_names(key, params), values, strict=False):
                when = dt.datetime.fromtimestamp((res.date or 0) / 1000, dt.timezone.utc).isoformat(timespec="seconds")
                value = value if isinstance(value, (int, float)) and math.isfinite(value) else None
                points.setdefault((context, entry), []).append(
                    Point(value, res.commit_hash, f"{res.params.get('machine', '?')}/{res.commit_hash[:8]}", when))
    series = [Series(entry, context, benchmarks.get(entry.split("(")[0], {}).get("unit", ""), False,
                     tuple(pts), asv_threshold_pct(entry, thresholds))
              for (context, entry), pts in points.items()]
    return series, tuple(skipped)

