"""The verdict document: a Verdict as a JSON file (`compare --format json`, `check --verdict-out`).

The fields are harness.judge.verdict.Verdict's (``dataclasses.asdict``, environment_diff as lists),
after the version and kind this module stamps::

    {"format_version": 3, "kind": "t4rec-bench/verdict",
     "overall": "regressed", "exit_code": 1, "run_id": ..., "profile": ..., "baseline_path": ...,
     "baseline_provenance": {...}, "environment_diff": [[key, baseline, current], ...],
     "workload_match": true, "measurements": [{...MeasurementVerdict...}, ...], "notes": [...],
     "reference_provenance": {...}, "etl_backend": "pandas"}

Reading goes through harness/documents/versions.py: a newer version, or an older one no upgrade
reaches, is refused (exit 2).
"""

from __future__ import annotations

from harness.documents import versions

FORMAT_VERSION = 3
KIND = "t4rec-bench/verdict"


def _v1_to_v2(doc: dict) -> dict:
    """Version 2 calls "unstable" "undecided" (one word for "the data cannot tell yet", exit 6)."""
    word = lambda v: "undecided" if v == "unstable" else v  # noqa: E731
    return {**doc, "format_version": 2, "overall": word(doc.get("overall")),
            "measurements": [{**m, "verdict": word(m.get("verdict"))} for m in doc.get("measurements") or []]}


def _v2_to_v3(doc: dict) -> dict:
    """Version 3 names where the run's ETL ran ("pandas" or "cudf"); a version 2 verdict did not say."""
    return {**doc, "format_version": 3, "etl_backend": None}


UPGRADES: dict[int, versions.Upgrade] = {1: _v1_to_v2, 2: _v2_to_v3}
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
    return {k: v for k, v in doc.items() if k not in (FORMAT.key, "kind")}
