"""The run record: one versioned JSON document per run. Everything downstream reads these.

A record is a plain dict (typed in ``record_types``) validated against ``schemas/run-record.schema.json``.
``build`` is the one place a record is put together (the runner and benchmarks/gpu_smoke.py call it).
Helpers here build measurements, merge repetitions, load with version checks, and write atomically.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

from harness.documents import atomic, versions
from harness.documents.record_types import (
    Failure,
    Fingerprints,
    FingerprintStage,
    Measurement,
    MeasurementKind,
    RunRecord,
    Stage,
    StageStatus,
    Unit,
)
from harness.errors import HarnessError

SCHEMA_VERSION = 2
KIND = "t4rec-bench/run"


def _v1_to_v2(doc: dict) -> dict:
    """Version 2 calls the machine-speed probe's readings ``machine_speed`` (version 1: ``calibration``,
    a word kept for ``t4rec-bench calibrate`` and its documents); the field keeps its place."""
    renamed = {("machine_speed" if key == "calibration" else key): value for key, value in doc.items()}
    return {**renamed, "schema_version": 2}


# Upgrades of older records: {N: function from a version N record to N+1}.
UPGRADES: dict[int, versions.Upgrade] = {1: _v1_to_v2}
FORMAT = versions.Format("run record", KIND, SCHEMA_VERSION, key="schema_version", upgrades=UPGRADES,
                         older_hint="re-run the pipeline to produce a current record")
_FIELDS = tuple(RunRecord.__annotations__)  # the order build writes

# unit and kind follow from the name's suffix; higher_is_better from the kind (and suffix).
_SUFFIXES: dict[str, tuple[Unit, MeasurementKind]] = {
    "_wall_s": ("s", "time"), "wall_s": ("s", "time"), "cpu_s": ("s", "time"),
    "rows_per_s": ("rows/s", "throughput"), "samples_per_s": ("samples/s", "throughput"),
    "_bytes": ("bytes", "memory"), "loss": ("1", "loss"), "sessions": ("count", "count"),
}
_QUALITY_PREFIXES = ("ndcg_at_", "recall_at_")


def measurement(name: str, samples) -> Measurement:
    """A measurement dict with unit, kind and direction derived from its name (``etl.wall_s``)."""
    samples = [float(s) for s in (samples if isinstance(samples, (list, tuple)) else [samples])]
    found = _unit_and_kind(name.split(".", 1)[1])
    if found is None:
        raise ValueError(f"measurement name {name!r} has no known unit suffix")
    unit, kind = found
    higher = kind in ("throughput", "metric")
    return {"name": name, "unit": unit, "value": statistics.median(samples), "samples": samples,
            "higher_is_better": higher, "kind": kind}


def _unit_and_kind(metric: str) -> tuple[Unit, MeasurementKind] | None:
    if metric.startswith(_QUALITY_PREFIXES):
        return "1", "metric"
    return next((v for k, v in _SUFFIXES.items() if metric.endswith(k)), None)


def merge_repetitions(records: Sequence[RunRecord]) -> RunRecord:
    """One record from N repetitions: the first's details, every measurement's samples pooled, the
    ``gpu`` field throttled when any repetition was (``_merge_gpu``), and the nondeterministic ops of
    every repetition."""
    first: RunRecord = {**records[0]}
    pooled: dict[str, list] = {}
    for rec in records:
        for m in rec["measurements"]:
            pooled.setdefault(m["name"], []).extend(m["samples"])
    first["measurements"] = [measurement(name, samples) for name, samples in pooled.items()]
    first["repeat"] = len(records)
    first["finished_at"] = records[-1]["finished_at"]
    if "machine_speed" in first:
        first["machine_speed"] = {"speed_s": [s for r in records for s in speeds(r)]}
    if any(r.get("gpu") for r in records):
        first["gpu"] = _merge_gpu(records)
    listed = [r["nondeterministic_ops"] for r in records if "nondeterministic_ops" in r]
    if listed:
        first["nondeterministic_ops"] = sorted({op for ops in listed for op in ops})
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        first["status"], first["failure"] = "failed", failed[0]["failure"]
    return first


def speeds(rec: RunRecord) -> list[float]:
    """The machine-speed probe's readings, one per repetition; empty when the record has none."""
    speed = rec.get("machine_speed")
    return list(speed.get("speed_s") or []) if speed else []


def _merge_gpu(records: Sequence[RunRecord]) -> dict:
    """The first repetition's ``gpu`` field that is not empty, throttled when any repetition was, with
    the throttle reasons of every repetition (sorted, each once)."""
    healths = [r.get("gpu") or {} for r in records]
    reasons = sorted({reason for h in healths for reason in h.get("throttle_reasons") or ()})
    throttled = any(bool(h.get("throttled")) for h in healths)
    return {**next(h for h in healths if h), "throttled": throttled, "throttle_reasons": reasons}


# The fingerprints in pipeline order: each stage's output hash, first to last.
FINGERPRINT_ORDER: tuple[FingerprintStage, ...] = ("synthetic", "etl_output", "splits", "model_weights", "metrics")


def first_divergence(base_fps: Fingerprints, cur_fps: Fingerprints) -> tuple[str, str, str] | None:
    """(stage, base hash, current hash) of the earliest fingerprint in pipeline order that differs;
    None when none does. Fingerprints missing on either side (older records) are skipped."""
    for stage in FINGERPRINT_ORDER:
        a, b = base_fps.get(stage), cur_fps.get(stage)
        if a is not None and b is not None and a != b:
            return stage, a, b
    return None


def stage(name: str, status: StageStatus, start_s: float, end_s: float) -> Stage:
    """One stage entry: offsets from the run's start."""
    return {"name": name, "status": status, "start_s": start_s, "end_s": end_s}


def build(*, run_id: str, profile: str, started_at: str, finished_at: str, command: str, config: dict,
          config_hash: str, workload_hash: str, environment: dict, stages: list[Stage],
          measurements: list[Measurement], days: list, fingerprints: dict, failure: Failure | None,
          faults: dict | None = None, instrumented: bool = True, **optional) -> RunRecord:
    """The record of one repetition (``repeat`` 1; ``merge_repetitions`` pools several).

    ``status`` follows from ``failure``. ``optional``: the fields the schema does not require (machine_speed,
    gpu, checkpoint, timeline, determinism_notes, nondeterministic_ops, etl_backend, notes, scale); one left out
    is absent from the record.
    Fields are written in ``RunRecord``'s order. Not validated here: ``write`` and the runner validate.
    """
    unknown = set(optional) - RunRecord.__optional_keys__
    if unknown:
        raise TypeError(f"record.build: {sorted(unknown)} are not optional fields of a run record")
    given = {**FORMAT.stamp(), "run_id": run_id, "profile": profile, "status": "failed" if failure else "ok",
             "started_at": started_at, "finished_at": finished_at, "command": command, "config": config,
             "config_hash": config_hash, "workload_hash": workload_hash, "faults": faults or {},
             "instrumented": instrumented, "repeat": 1, "environment": environment, "stages": stages,
             "measurements": measurements, "days": days, "fingerprints": fingerprints, "failure": failure,
             **optional}
    # a RunRecord: its fields, each from a keyword of the same name (unknown optional ones refused above)
    return cast(RunRecord, {key: given[key] for key in _FIELDS if key in given})


def schema() -> dict:
    return json.loads(resources.files("harness.documents").joinpath("schemas/run-record.schema.json").read_text())


def upgrade(rec, where: str = "") -> RunRecord:
    """``rec`` as a current record (a new dict when upgraded); HarnessError for a newer or unknown version."""
    return cast(RunRecord, versions.read(rec, FORMAT, where))  # its kind and version checked; load validates the rest


def validate(rec: Mapping[str, Any]) -> None:
    """Raise HarnessError naming the first schema violation. Only a current record passes: one
    read from disk goes through ``upgrade`` first (``load`` does)."""
    import jsonschema

    if versions.version_of(rec, FORMAT) != FORMAT.current:
        upgrade(rec)  # raises for a newer, unknown or unreadable version, with what to do
        raise HarnessError(f"run record has schema_version {rec.get('schema_version')!r}, this harness reads "
                           f"{FORMAT.current}: upgrade it (record.upgrade) before validating")
    try:
        jsonschema.validate(rec, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise HarnessError(f"run record is invalid at {where}: {exc.message}") from None


def load(path: str | Path) -> RunRecord:
    """Read a run record, upgrade it to the current version and validate it; any problem is one
    HarnessError (exit code 2)."""
    path = Path(path)
    rec = upgrade(atomic.read_json(path, "run record"), str(path))
    validate(rec)
    return rec


def by_name(rec: Mapping[str, Any]) -> dict[str, Measurement]:
    """{name: measurement} of a run record (or a record not yet validated)."""
    return {m["name"]: m for m in rec["measurements"]}


def write(rec: Mapping[str, Any], path: str | Path) -> Path:
    validate(rec)
    return atomic.write_json(path, rec)


def append_history(rec: Mapping[str, Any], history_dir: str | Path) -> Path:
    """Write into the history folder under a new name; existing files are never replaced."""
    validate(rec)
    return atomic.write_new_json(history_dir, f"{rec['started_at'][:19].replace(':', '')}-{rec['profile']}", rec)
