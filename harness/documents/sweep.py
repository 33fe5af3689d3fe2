"""The sweep document (the cost curve that ``t4rec-bench sweep`` writes): its format, written
atomically and read back through the one version check (harness.documents.versions).

harness.run.sweep builds it from run records (``summarize``)::

    {"format_version": 1, "kind": "t4rec-bench/sweep", "created_at": ISO time, "profile": str (or "mixed"),
     "command": str, "machine_class": str, "environment_fingerprint": str (or "mixed"),
     "rows": [sizes], "engines": [engine labels: "in-process", "local:2", "in-process, nproc=2"],
     "points": [{"rows", "engine", "profile", "status", "run_id", "record" (path or null), "failure",
                 "machine_class", "environment_fingerprint",
                 "wall_s": {stage: s, "total": s}, "throughput": {measurement name: value},
                 "peak_rss_bytes": {stage: bytes, "total": bytes}, "scale": record["scale"]}],
     "fits": [{"engine", "quantity" ("wall_s" | "peak_rss_bytes"), "stage", "k", "log10_c",
               "k_stderr", "k_ci95" ([lo, hi] or null), "r2", "n_points", "rows_min", "rows_max"}],
     "speedups": [{"rows", "stage", "engine", "baseline_engine", "speedup" (baseline wall / engine wall)}]}
"""

from __future__ import annotations

from pathlib import Path

from harness.documents import atomic, versions

KIND = "t4rec-bench/sweep"
FORMAT = versions.Format("sweep file", KIND, 1)  # no older version exists: no upgrades yet


def write(doc: dict, path: str | Path) -> Path:
    """Write a sweep document atomically; its path."""
    return atomic.write_json(path, doc)


def load(path: str | Path) -> dict:
    """Read a sweep document; another kind, or a version this harness cannot read, is one HarnessError."""
    path = Path(path)
    doc = atomic.read_json(path, "sweep file")
    return versions.read(doc, FORMAT, str(path))
