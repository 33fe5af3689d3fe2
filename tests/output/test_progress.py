"""Console progress: the training bar follows the worker's typed progress events."""

import io

from harness.measure import events
from harness.output.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_training_bar_follows_progress_events():
    stream = _Tty()
    progress = Progress(stream=stream)
    progress.step(events.ProgressReset(day=2, total_steps=10))
    progress.step(events.Progress(steps=3))
    progress.step(events.Progress(steps=4))
    assert (progress._bar.total, progress._bar.n) == (10, 7)
    progress.stage_done("train", 1.5)
    assert progress._bar is None
    out = stream.getvalue()
    assert "train day 2" in out and "train done in 1.50 s" in out


def test_disabled_progress_ignores_events():
    stream = _Tty()
    progress = Progress(enabled=False, stream=stream)
    progress.step(events.ProgressReset(day=1, total_steps=5))
    progress.step(events.Progress(steps=1))
    assert progress._bar is None and stream.getvalue() == ""
