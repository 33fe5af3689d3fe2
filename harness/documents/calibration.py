"""The calibration document `t4rec-bench calibrate` writes (reports/calibration-*.json).

::

    {"format_version": 2, "kind": "t4rec-bench/calibration",
     "profile": "ci", "machine": "cpu-2c-x86_64",    # where the A/A runs ran
     "date": "...", "policy_source": "...",          # when, and the policy file judged by
     ...}                                            # the analysis: harness/judge/noise.py's
                                                     # fields (run_ids first), or "sequential":
                                                     # harness/commands/calibrate_gate.py's

Nothing reads one back yet; a reader goes through ``versions.read(doc, FORMAT)``.
"""

from __future__ import annotations

from pathlib import Path

from harness.documents import versions

FORMAT_VERSION = 2
KIND = "t4rec-bench/calibration"
FORMAT = versions.Format("calibration", KIND, FORMAT_VERSION,
                         older_hint="re-run `t4rec-bench calibrate` with this harness")


def build(profile: str, machine: str, date: str, policy_source: str, body: dict) -> dict:
    """A calibration document: version and kind, where and when it ran, then ``body``."""
    return {**FORMAT.stamp(), "profile": profile, "machine": machine, "date": date,
            "policy_source": policy_source, **body}


def default_path(doc: dict) -> Path:
    """reports/calibration[-sequential]-<profile>-<machine>-<date, UTC, to the second>.json"""
    kind = "-sequential" if "sequential" in doc else ""
    stamp = doc["date"][:19].replace("-", "").replace(":", "")
    return Path(f"reports/calibration{kind}-{doc['profile']}-{doc['machine']}-{stamp}.json")
