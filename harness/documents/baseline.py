"""Baseline files: ``baselines/<machine>/<profile>.json``, one versioned document each.

A baseline holds one run record whose measurements pool N >= 5 repetitions (every raw
sample kept), an optional multi-seed spread of the quality metrics, and provenance.
Replacing a baseline first copies the old file into ``baselines/<machine>/history/``, so
no baseline is ever lost. Reading refuses corrupt, truncated, foreign or newer files with
exit code 2 and never writes anything.

Document (format_version 1)::

    {"format_version": 1, "kind": "t4rec-bench/baseline",
     "profile": "ci", "machine": "cpu-2c-x86_64",   # where it belongs
     "workload_hash": "...",                         # the record's, for a quick look
     "record": {...},                                # run record, repetitions pooled
     "seed_spread": {"seeds": [42, 43, ...],         # or null: metric/loss medians per seed
                     "samples": {"quality.ndcg_at_20": [...], ...}},
     "provenance": {"date", "commit", "dirty", "env_fingerprint", "environment",
                    "command", "runs", "run_ids"}}
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.clock import now
from harness.documents import atomic, versions
from harness.documents import record as recordmod
from harness.documents.record_types import RunRecord
from harness.errors import EXIT_NO_BASELINE, HarnessError

FORMAT_VERSION = 1
KIND = "t4rec-bench/baseline"
# Upgrades of older baselines: {N: function from a format_version N document to N+1}. Empty: only
# version 1 exists. The embedded record is upgraded by record.UPGRADES, whatever the baseline's version.
UPGRADES: dict[int, versions.Upgrade] = {}
FORMAT = versions.Format("baseline", KIND, FORMAT_VERSION, upgrades=UPGRADES,
                         newer_hint="or use an older baseline from history")
MIN_RUNS = 5  # a baseline summarises at least this many repetitions (unless forced)
ROOT = Path("baselines")  # relative to the working directory, as asv's results folder
SEED_KINDS = ("metric", "loss")  # measurements whose spread over seeds is kept
_RESTORE = ("restore it with `git checkout -- {path}` or from {history}/, "
            "or record a new one with `t4rec-bench baseline record`")


def default_path(profile: str, machine: str | None = None, root: str | Path | None = None) -> Path:
    """``<root>/<machine>/<profile>.json``; machine defaults to this machine's class."""
    if machine is None:
        from harness.measure.environment import machine_class

        machine = machine_class()
    return Path(root if root is not None else ROOT) / machine / f"{profile}.json"


def missing(path: str | Path, profile: str) -> str:
    """What to say when there is no baseline at ``path``, and how to record one."""
    return f"no baseline at {path}; record one with `t4rec-bench baseline record --profile {profile}`"


def history_dir(path: str | Path) -> Path:
    return Path(path).parent / "history"


def load(path: str | Path) -> dict:
    """Read and check a baseline file. Missing: HarnessError exit 3; anything unreadable: exit 2."""
    path = Path(path)
    restore = _RESTORE.format(path=path, history=history_dir(path))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(missing(path, path.stem), EXIT_NO_BASELINE) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: baseline is truncated or corrupt ({exc}); {restore}") from None
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read baseline ({exc.strerror})") from None
    return check(doc, str(path), restore)


def check(doc, where: str = "baseline", restore: str = "record a new one") -> dict:
    """``doc`` (and its record) upgraded to the current versions; HarnessError (exit 2) unless it is
    then a valid baseline document. The input is not modified."""
    doc = versions.read(doc, dataclasses.replace(FORMAT, older_hint=restore), where)
    for key, kind in (("record", dict), ("provenance", dict)):
        if not isinstance(doc.get(key), kind):
            raise HarnessError(f"{where}: baseline has no {key!r} object; {restore}")
    try:
        doc["record"] = recordmod.upgrade(doc["record"])
        recordmod.validate(doc["record"])
    except HarnessError as exc:
        raise HarnessError(f"{where}: baseline's record: {exc}; {restore}") from None
    if doc["record"]["status"] != "ok":
        raise HarnessError(f"{where}: baseline's record is of a failed run; {restore}")
    return doc


def build(rec: RunRecord, command: str | None = None, seed_spread: dict | None = None,
          run_ids: list[str] | None = None) -> dict:
    """A baseline document around ``rec`` (a run record, repetitions already pooled)."""
    env = rec["environment"]
    provenance = {
        "date": now(), "commit": env.get("git", {}).get("commit"), "dirty": env.get("git", {}).get("dirty"),
        "env_fingerprint": env["fingerprint"], "environment": env,
        "command": command or rec.get("command", ""), "runs": rec["repeat"],
        "run_ids": run_ids or [rec["run_id"]],
    }
    doc = {**FORMAT.stamp(), "profile": rec["profile"],
           "machine": env["machine_class"], "workload_hash": rec["workload_hash"], "record": rec,
           "seed_spread": seed_spread, "provenance": provenance}
    check(doc)
    return doc


def from_records(records: Sequence[RunRecord], command: str | None = None, seed_spread: dict | None = None) -> dict:
    """A baseline from several run records of one workload (their samples pooled)."""
    hashes = {r["workload_hash"] for r in records}
    if len(hashes) != 1:
        raise HarnessError(f"cannot pool records of {len(hashes)} different workloads into one baseline")
    merged = recordmod.merge_repetitions(records)
    merged["repeat"] = sum(r["repeat"] for r in records)
    return build(merged, command, seed_spread, [r["run_id"] for r in records])


def seed_spread(by_seed: Mapping[int, RunRecord]) -> dict:
    """``{"seeds": [...], "samples": {name: [median per seed]}}`` for metric and loss measurements."""
    seeds = sorted(by_seed)
    samples: dict[str, list] = {}
    for seed in seeds:
        for m in by_seed[seed]["measurements"]:
            if m["kind"] in SEED_KINDS:
                samples.setdefault(m["name"], []).append(m["value"])
    return {"seeds": seeds, "samples": {k: v for k, v in samples.items() if len(v) == len(seeds)}}


def refusals(rec: Mapping[str, Any], git: dict | None = None) -> tuple[list[str], list[str]]:
    """Why ``rec`` must not become a baseline: (never allowed, allowed with --force). ``rec``: a run
    record, or the fields of one a run is planned with (status, faults, profile, repeat, environment.git)."""
    never, unless_forced = [], []
    if rec["status"] != "ok":
        never.append(f"the run failed ({(rec.get('failure') or {}).get('message', 'no message')})")
    if rec.get("faults"):
        never.append(f"the run has injected faults ({', '.join(sorted(rec['faults']))})")
    if rec["profile"] == "smoke":
        unless_forced.append("the smoke profile is too small to gate anything")
    if rec["repeat"] < MIN_RUNS:
        unless_forced.append(f"it has {rec['repeat']} repetitions; a baseline needs {MIN_RUNS} or more")
    for state in (git or {}, rec["environment"].get("git", {})):
        if state.get("dirty"):
            unless_forced.append("the git tree has uncommitted changes (commit them, so the baseline names "
                                 "the code it measured)")
            break
        if state and state.get("commit") is None:
            unless_forced.append("the commit is unknown (not a git checkout?)")
            break
    return never, unless_forced


def ensure_recordable(rec: Mapping[str, Any], force: bool = False, git: dict | None = None) -> None:
    never, unless_forced = refusals(rec, git)
    if never:
        raise HarnessError("refusing to record a baseline: " + "; ".join(never) + " (not even with --force)")
    if unless_forced and not force:
        raise HarnessError("refusing to record a baseline: " + "; ".join(unless_forced)
                           + "; pass --force to record it anyway")


def save(doc: dict, path: str | Path, force: bool = False) -> tuple[dict | None, Path | None]:
    """Write ``doc`` to ``path`` atomically; first copy any replaced file into history.

    Returns (the replaced baseline or None, where its copy went or None). A replaced file
    that cannot be read is kept byte for byte, and is replaced only with ``force``.
    """
    check(doc)
    path = Path(path)
    old, kept = None, None
    if path.exists():
        try:
            old = load(path)
        except HarnessError as exc:
            if not force:
                raise HarnessError(f"{exc}; pass --force to replace it (the old file is kept in history)") from None
        kept = _keep(path, old)
    atomic.write_json(path, doc)
    return old, kept


def _keep(path: Path, old: dict | None) -> Path:
    """Copy the file at ``path`` into its history folder under a new, unused name."""
    date = (old or {}).get("provenance", {}).get("date") or now()
    stem = f"{path.stem}-{date[:19].replace(':', '').replace('-', '')}"
    if old is not None:
        return atomic.write_new_json(history_dir(path), stem, old)
    target = history_dir(path)
    target.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        candidate = target / f"{stem}-unreadable{'' if n == 0 else f'-{n}'}.json"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        shutil.copyfile(path, candidate)
        return candidate
    raise HarnessError(f"no free name for {stem} in {target}")
