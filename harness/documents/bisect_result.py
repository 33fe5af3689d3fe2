"""The result of `t4rec-bench bisect` (reports/bisect-<good>-<bad>.json by default): its format, written
atomically and read back through the one version check (harness.documents.versions).

harness/pairing/bisect_run.py builds it (``document``)::

    {"format_version": 1, "kind": "t4rec-bench/bisect-result", "created_at": ISO time,
     "repo": path, "good": sha, "bad": sha, "metric": measurement name, "workload": [run options],
     "outcome": "culprit" | "no-regression" | "undecided" | "skipped",
     "total": DUEL (BAD against GOOD),
     "probes": [{"commit": sha, "against": sha, "candidates_left": int, **DUEL}],
     "culprit": null | {"commit": sha, "subject": str, "parent": sha, "own": DUEL (against its parent)},
     "together": [sha, ...] (the commits that make the regression together; [] when the culprit alone),
     "suspects": [sha, ...] (the commits the first bad one is among), "undecided_at": sha | null,
     "skipped": {sha: why}, "subjects": {sha: subject}, "reproduce": command | ""}

DUEL: {"state": "regressed" | "improved" | "ok" | "undecided" | "skip", "change_pct", "low_pct", "high_pct"
(the anytime interval; null where unbounded), "pairs", "words" (one line), "mode", "p_value", "base" and
"values" (the two sides' values in pair order; absent for a skip)}.
"""

from __future__ import annotations

from pathlib import Path

from harness.documents import atomic, versions

KIND = "t4rec-bench/bisect-result"
FORMAT = versions.Format("bisect result", KIND, 1)  # no older version exists: no upgrades yet


def default_path(good: str, bad: str) -> Path:
    return Path("reports") / f"bisect-{good[:10]}-{bad[:10]}.json"


def write(doc: dict, path: str | Path) -> Path:
    """Write a bisect result atomically (stamped with this format's kind and version); its path."""
    return atomic.write_json(path, {**FORMAT.stamp(), **doc})


def load(path: str | Path) -> dict:
    """Read a bisect result; another kind, or a version this harness cannot read, is one HarnessError."""
    path = Path(path)
    return versions.read(atomic.read_json(path, "bisect result"), FORMAT, str(path))
