"""harness.clock.now: the one timestamp written into records and baselines."""

from __future__ import annotations

import datetime as dt

from benchmarks import gpu_smoke
from harness import clock
from harness.documents import baseline


def test_now_is_utc_iso_to_the_second():
    text = clock.now()
    parsed = dt.datetime.fromisoformat(text)
    assert parsed.utcoffset() == dt.timedelta(0) and parsed.microsecond == 0
    assert text.endswith("+00:00") and len(text) == len("2026-11-29T23:16:27+00:00")
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 5


def test_documents_use_the_one_clock():
    assert baseline.now is clock.now and gpu_smoke.now is clock.now
