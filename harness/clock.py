"""The one wall-clock timestamp written into documents (records, baselines)."""

from __future__ import annotations

import datetime as dt


def now() -> str:
    """The current UTC time as ISO 8601 to the second, e.g. ``2026-11-29T23:16:27+00:00``."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
