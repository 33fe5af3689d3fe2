"""The verdict document: a Verdict as a JSON file (`compare --format json`, `check --verdict-out`).

The fields are harness.judge.verdict.Verdict's (``dataclasses.asdict``, environment_diff as lists),
after the version and kind this module stamps::

    {"format_version": 4, "kind": "t4rec-bench/verdict",
     "overall": "regressed", "exit_code": 1, "run_id": ..., "profile": ..., "baseline_path": ...,
     "baseline_provenance": {...}, "environment_diff": [[key, baseline, current], ...],
     "workload_match": true, "measurements": [{...MeasurementVerdict...}, ...], "notes": [...],
     "reference_provenance": {...}, "etl_backend": "pandas", "profile_diff": null | {...}}

``profile`` is the workload's name (harness/profiles.toml); ``profile_diff`` is the differential
profile of a time regression (harness/pairing/profile.py), typed in harness/documents/profile_types.py
and checked against ``schemas/verdict-profile.schema.json``::

    "profile_diff": null | {
      "profiler": "py-spy 0.4.1", "rate_hz": 100,
      "trigger": ["train.wall_s"],           # the time measurements that made it run
      "skipped": null | "why there is no profile",
      "overhead_pct": {"train": 4.1, ...},   # per stage: the profiled run's wall time against the median
                                             # of the judged runs of the same side, percent (sides averaged)
      "stages": [
        {"stage": "train",
         "current": {"samples": 1234, "seconds": 12.3},
         "reference": {"samples": 1100, "seconds": 11.0},
         "functions": [                      # [profile] top, the largest |delta_s| first
           {"function": "_planted_slowdown", "file": "harness/pipeline/chain.py", "line": 30,
            "current_s": 2.1, "reference_s": 0.0, "delta_s": 2.1,
            "current_share": 0.17, "reference_share": 0.0}]}],
      "folded": null | {"current": "profile/current.folded", "reference": "profile/reference.folded"}
    }                                        # folded: py-spy's raw stacks, relative to the verdict's folder

Reading goes through harness/documents/versions.py: a newer version, or an older one no upgrade
reaches, is refused (exit 2).
"""

from __future__ import annotations

from harness.documents import versions
from harness.errors import HarnessError

FORMAT_VERSION = 4
KIND = "t4rec-bench/verdict"


def _v1_to_v2(doc: dict) -> dict:
    """Version 2 calls "unstable" "undecided" (one word for "the data cannot tell yet", exit 6)."""
    def word(v):
        return "undecided" if v == "unstable" else v

    return {**doc, "format_version": 2, "overall": word(doc.get("overall")),
            "measurements": [{**m, "verdict": word(m.get("verdict"))} for m in doc.get("measurements") or []]}


def _v2_to_v3(doc: dict) -> dict:
    """Version 3 names where the run's ETL ran ("pandas" or "cudf"); a version 2 verdict did not say."""
    return {**doc, "format_version": 3, "etl_backend": None}


def _v3_to_v4(doc: dict) -> dict:
    """Version 4 may carry a differential profile; a version 3 verdict had none."""
    return {**doc, "format_version": 4, "profile_diff": None}


UPGRADES: dict[int, versions.Upgrade] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}
FORMAT = versions.Format("verdict", KIND, FORMAT_VERSION, upgrades=UPGRADES,
                         older_hint="re-run the comparison with this harness",
                         newer_hint="or re-run the comparison with this harness")


def dump(fields: dict) -> dict:
    """The document of a verdict's ``fields``: format_version and kind first."""
    return {**FORMAT.stamp(), **fields}


def load(doc, where: str = "") -> dict:
    """The verdict's fields from a document ``dump`` wrote (without format_version and kind).

    HarnessError (exit 2) for another kind, a newer version, or an older one no upgrade reaches.
    """
    doc = versions.read(doc, FORMAT, where)
    if doc.get("profile_diff") is not None:
        validate_profile(doc["profile_diff"], where)
    return {k: v for k, v in doc.items() if k not in (FORMAT.key, "kind")}


def profile_schema() -> dict:
    """The JSON Schema of a verdict's ``profile_diff`` (schemas/verdict-profile.schema.json)."""
    import json
    from importlib import resources

    return json.loads(resources.files("harness.documents").joinpath("schemas/verdict-profile.schema.json").read_text())


def validate_profile(profile: dict, where: str = "") -> None:
    """HarnessError naming the first place where ``profile`` departs from the schema."""
    import jsonschema

    try:
        jsonschema.validate(profile, profile_schema())
    except jsonschema.ValidationError as exc:
        at = "/".join(map(str, exc.absolute_path)) or "(top)"
        raise HarnessError(f"{where + ': ' if where else ''}verdict profile_diff at {at}: {exc.message}") from None
