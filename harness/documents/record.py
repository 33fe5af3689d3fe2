"""The run record: one versioned JSON document per run. Everything downstream reads these.

A record is a plain dict validated against ``schemas/run-record.schema.json``. Helpers here
build measurements, merge repetitions, load with version checks, and write atomically.
"""

from __future__ import annotations

import json
import statistics
from importlib import resources
from pathlib import Path

from harness.documents import atomic
from harness.errors import HarnessError

SCHEMA_VERSION = 1
KIND = "t4rec-bench/run"

# unit and kind follow from the name's suffix; higher_is_better from the kind (and suffix).
_SUFFIXES = {
    "_wall_s": ("s", "time"), "wall_s": ("s", "time"), "cpu_s": ("s", "time"),
    "rows_per_s": ("rows/s", "throughput"), "samples_per_s": ("samples/s", "throughput"),
    "_bytes": ("bytes", "memory"), "loss": ("1", "loss"), "sessions": ("count", "count"),
}
_QUALITY_PREFIXES = ("ndcg_at_", "recall_at_")


def measurement(name: str, samples) -> dict:
    """A measurement dict with unit, kind and direction derived from its name (``etl.wall_s``)."""
    samples = [float(s) for s in (samples if isinstance(samples, (list, tuple)) else [samples])]
    metric = name.split(".", 1)[1]
    if metric.startswith(_QUALITY_PREFIXES):
        unit, kind = "1", "metric"
    else:
        unit, kind = next((v for k, v in _SUFFIXES.items() if metric.endswith(k)), (None, None))
    if unit is None:
        raise ValueError(f"measurement name {name!r} has no known unit suffix")
    higher = kind in ("throughput", "metric")
    return {"name": name, "unit": unit, "value": statistics.median(samples), "samples": samples,
            "higher_is_better": higher, "kind": kind}


def merge_repetitions(records: list[dict]) -> dict:
    """One record from N repetitions: the first's details, every measurement's samples pooled."""
    first = dict(records[0])
    pooled: dict[str, list] = {}
    for rec in records:
        for m in rec["measurements"]:
            pooled.setdefault(m["name"], []).extend(m["samples"])
    first["measurements"] = [measurement(name, samples) for name, samples in pooled.items()]
    first["repeat"] = len(records)
    first["finished_at"] = records[-1]["finished_at"]
    if "calibration" in first:
        first["calibration"] = {"speed_s": [s for r in records for s in r.get("calibration", {}).get("speed_s", [])]}
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        first["status"], first["failure"] = "failed", failed[0]["failure"]
    return first


# The fingerprints in pipeline order: each stage's output hash, first to last.
FINGERPRINT_ORDER = ("synthetic", "etl_output", "splits", "model_weights", "metrics")


def first_divergence(base_fps: dict, cur_fps: dict) -> tuple[str, str, str] | None:
    """(stage, base hash, current hash) of the earliest fingerprint in pipeline order that differs;
    None when none does. Fingerprints missing on either side (older records) are skipped."""
    for stage in FINGERPRINT_ORDER:
        a, b = base_fps.get(stage), cur_fps.get(stage)
        if a is not None and b is not None and a != b:
            return stage, a, b
    return None


def schema() -> dict:
    return json.loads(resources.files("harness.documents").joinpath("schemas/run-record.schema.json").read_text())


def validate(rec: dict) -> None:
    """Raise HarnessError naming the first schema violation."""
    import jsonschema

    version = rec.get("schema_version") if isinstance(rec, dict) else None
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        hint = "upgrade t4rec-bench to read it" if newer else "re-run the pipeline to produce a current record"
        raise HarnessError(f"run record has schema_version {version!r}, this harness reads {SCHEMA_VERSION}: {hint}")
    try:
        jsonschema.validate(rec, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise HarnessError(f"run record is invalid at {where}: {exc.message}") from None


def load(path: str | Path) -> dict:
    """Read and validate a run record; any problem is one HarnessError (exit code 2)."""
    path = Path(path)
    rec = atomic.read_json(path, "run record")
    if not isinstance(rec, dict) or rec.get("kind") != KIND:
        raise HarnessError(f"{path}: not a t4rec-bench run record (kind is not {KIND!r})")
    validate(rec)
    return rec


def by_name(rec: dict) -> dict[str, dict]:
    return {m["name"]: m for m in rec["measurements"]}


def write(rec: dict, path: str | Path) -> Path:
    validate(rec)
    return atomic.write_json(path, rec)


def append_history(rec: dict, history_dir: str | Path) -> Path:
    """Write into the history folder under a new name; existing files are never replaced."""
    validate(rec)
    return atomic.write_new_json(history_dir, f"{rec['started_at'][:19].replace(':', '')}-{rec['profile']}", rec)
