"""The folded-stack files of a verdict's differential profile (py-spy's raw format, one stack per line:
``frame;frame;leaf count``), kept beside the verdict file; the profile names them relative to its folder
(harness/documents/verdict.py). What they mean is harness/judge/profile_diff.py's."""

from __future__ import annotations

from pathlib import Path


def read(profile: dict | None, folder: str | Path) -> dict:
    """The profile's folded-stack texts, {"current": text, "reference": text}, read from the paths it names
    (relative to ``folder``, the verdict file's); {"error": why} when one cannot be read; {} without any."""
    paths = (profile or {}).get("folded") or {}
    if (profile or {}).get("skipped") or not paths:
        return {}
    out = {}
    for side in ("current", "reference"):
        path = Path(folder) / str(paths.get(side) or "")
        try:
            out[side] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return {"error": f"cannot read the {side} folded stacks {path}: {getattr(exc, 'strerror', None) or exc}"}
    return out
