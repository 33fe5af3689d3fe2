"""asv.conf.json, asv's configuration: the repository, the results folder, the build and install commands
(harness/envs/build.py) and the regression thresholds (harness/judge/history.py's callers).

asv owns the format (its ``"version"`` key); the harness only reads it, as asv does.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError


def read(path: str | Path) -> dict:
    """asv.conf.json as a dict. asv reads it as JSON5 (comments allowed); without the json5
    package (asv's dependency) whole-line // comments are stripped and the rest read as JSON."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read asv config ({exc.strerror})") from None
    try:
        import json5

        return json5.loads(text)
    except ImportError:
        pass
    except ValueError as exc:
        raise HarnessError(f"{path}: not valid JSON5 ({exc})") from None
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    try:
        return json.loads("\n".join(lines))
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc})") from None


def benchmarks(results_dir: Path) -> dict:
    """asv's benchmarks.json beside its results (each benchmark's metadata, by name); {} when absent or
    unreadable: asv writes it with the results, and a series without it just lacks the metadata."""
    try:
        data = json.loads((Path(results_dir) / "benchmarks.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}
