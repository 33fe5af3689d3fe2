"""Shared by the suites: profile selection, the one pipeline run per profile, record lookups.

Imports of the harness happen inside functions (asv discovery stays fast); the profile list is
computed at import, because asv needs ``params`` then.
"""

from __future__ import annotations

import os

PROFILES_VAR = "T4REC_BENCH_PROFILES"
RECORD_DIR_VAR = "T4REC_BENCH_RECORD_DIR"
COMMIT_VAR = "T4REC_BENCH_COMMIT"
DEVICE_VAR = "T4REC_BENCH_DEVICE"
TRACKED = ("smoke", "nightly")  # always in params, so asv's graphs keep one stable parameter list
# Wall-clock budget of one profile's pipeline run or preparation; setup_cache gets the sum.
BUDGET_S = {"smoke": 900.0, "ci": 1800.0, "seed": 1800.0, "nightly": 3600.0, "scale": 10800.0}


def harness_module(path: str, *older: str):
    """The benchmarked commit's ``harness.<path>`` (``path`` as laid out now, e.g. "run.runner").

    asv runs this checkout's benchmarks against every commit it benchmarks, and older commits laid
    the modules out differently: ``older`` names the module's earlier paths, newest first (for
    example "run.nightly_pairs" before run/ was split by job), and commits before the layered
    layout kept the modules one level up (harness/runner.py, harness/stages/etl.py): for those, the
    layer is dropped from the last path."""
    import importlib

    paths = (path, *older)
    for candidate in paths:
        try:
            return importlib.import_module(f"harness.{candidate}")
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("harness."):
                raise
    return importlib.import_module(f"harness.{paths[-1].split('.', 1)[1]}")


def selected_profiles() -> tuple[str, ...]:
    from harness.config import profile_names

    names = tuple(p.strip() for p in os.environ.get(PROFILES_VAR, "nightly").split(",") if p.strip())
    unknown = [p for p in names if p not in profile_names()]
    if unknown or not names:
        raise ValueError(f"{PROFILES_VAR}={os.environ.get(PROFILES_VAR)!r}: unknown profile(s) {unknown}; "
                         f"choose from {', '.join(profile_names())}")
    return names


SELECTED = selected_profiles()
PROFILES = TRACKED + tuple(p for p in SELECTED if p not in TRACKED)


def budget_s(profiles=SELECTED) -> float:
    return sum(BUDGET_S.get(p, 7200.0) for p in profiles)


def skip_unselected(profile: str) -> None:
    """asv reports a benchmark whose setup raises NotImplementedError as skipped (n/a)."""
    if profile not in SELECTED:
        raise NotImplementedError(f"profile {profile!r} not selected ({PROFILES_VAR})")


def build_config(profile: str):
    from harness.config import build_config as build

    device = os.environ.get(DEVICE_VAR, "").strip()
    return build(profile, {"device": device} if device else None)


def stamp_commit(rec: dict) -> dict:
    """Record the commit asv benchmarked. In a managed environment the harness is installed from a
    wheel, so the record's own git lookup cannot see it: asv's ASV_COMMIT (a clean checkout) wins."""
    git = dict(rec["environment"].get("git") or {})
    if os.environ.get("ASV_COMMIT"):
        git.update(commit=os.environ["ASV_COMMIT"], dirty=False)
    elif os.environ.get(COMMIT_VAR):
        git["commit"] = os.environ[COMMIT_VAR]
    rec["environment"]["git"] = git
    return rec


def run_pipeline(profile: str) -> dict:
    """One harness run of ``profile``: the validated record, also appended to $T4REC_BENCH_RECORD_DIR."""
    record, runner = harness_module("documents.record"), harness_module("run.runner")
    rec = stamp_commit(runner.run(build_config(profile), repeat=1, command=f"asv setup_cache (profile {profile})"))
    record.validate(rec)
    folder = os.environ.get(RECORD_DIR_VAR)
    if folder:
        path = record.append_history(rec, folder)
        print(f"t4rec-bench: record written to {path}")
    return rec


def measurement(rec: dict, name: str) -> float:
    """The median of ``name`` in the record; NotImplementedError (asv: skipped) if the run lacks it."""
    for m in rec["measurements"]:
        if m["name"] == name:
            return m["value"]
    raise NotImplementedError(f"the run record has no measurement {name!r}")


def check_ok(rec: dict) -> None:
    if rec["status"] != "ok":
        f = rec.get("failure") or {}
        raise RuntimeError(f"pipeline run failed in stage {f.get('stage')!r} ({f.get('kind')}): {f.get('message')}")


def reciprocal(value: float) -> float:
    """1 / value, floored at 1e-12 below so that a zero metric shows as a huge step, not a crash."""
    return 1.0 / max(value, 1e-12)
