"""Progress output for `t4rec-bench run`: the current stage, and a bar while training."""

from __future__ import annotations

import sys


class Progress:
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._bar = None

    def _print(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def repetition(self, n: int, total: int) -> None:
        if total > 1:
            self._print(f"repetition {n}/{total}")

    def reference(self, n: int, total: int, commit: str, arm: str = "reference") -> None:
        # the partner is the reference run again, beside the cross arm (harness/pairing/together.py)
        what = "the baseline's environment" if arm in ("reference", "partner") else "this environment"
        self._print(f"{arm} {n}/{total} (commit {commit[:10]} in {what}, in a separate process)")

    def note(self, text: str) -> None:
        print(f"note: {text}", file=self.stream, flush=True)  # shown even when progress is off

    def stage(self, name: str, labels: dict) -> None:
        label = f" (day {labels['day']})" if labels.get("day") else ""
        self._print(f"  {name}{label} ...")

    def stage_done(self, name: str, wall_s: float) -> None:
        self._close_bar()
        self._print(f"  {name} done in {wall_s:.2f} s")

    def step(self, event) -> None:
        """A training-progress event (harness.measure.events.ProgressReset or Progress)."""
        from harness.measure import events

        if not self.enabled:
            return
        if isinstance(event, events.ProgressReset):
            from tqdm import tqdm

            self._close_bar()
            self._bar = tqdm(total=event.total_steps, desc=f"  train day {event.day}", unit="step",
                             file=self.stream, leave=False, disable=not self.stream.isatty())
        elif self._bar is not None:
            self._bar.update(event.steps)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
