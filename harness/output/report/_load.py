"""Reading what a report needs from files: run records, the baseline, the history folder.

``build_from_files`` is what the ``report`` command, ``check`` and ``nightly`` call. It only
reads records and baselines (nothing is re-measured), judges the run with
``harness.judge.compare`` unless given a verdict, and finds change points with
``harness.judge.changepoints`` when that module (and asv) is available.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.documents import record as recmod
from harness.documents.record_types import RunRecord
from harness.output.report import _data

DEFAULT_HISTORY = "reports/history"


def build_from_files(out_path: str | Path, runs: Sequence[RunRecord | str | Path] = (), *,
                     history_dir: str | Path | None = DEFAULT_HISTORY,
                     baseline_path: str | Path | None = None, machine: str | None = None, verdict=None,
                     policies_path: str | None = None, verdict_dir: str | Path | None = None) -> Path:
    """Build the report at ``out_path`` (and ``summary.md`` beside it); return its path.

    runs: run records or paths to them; none means the newest record in ``history_dir``.
    baseline_path: default the verdict's baseline, else ``baselines/<machine>/<profile>.json``
        with ``machine`` defaulting to the run's machine class.
    verdict: reuse a verdict already computed (``check`` has one); else the runs are judged.
    verdict_dir: the verdict file's folder, where its profile's folded stacks are (default: beside the HTML).
    Raises HarnessError (exit 2) for unreadable input.
    """
    from harness.output.report import build_report

    history = load_history(history_dir)
    records = [r if isinstance(r, dict) else recmod.load(r) for r in runs] or [_newest(history, history_dir)]
    current = _data.current_record(records)
    path = _baseline_path(current, baseline_path, machine, verdict)
    baseline = _load_baseline(path)
    if verdict is None:
        from harness.judge.decide import verdict_of

        verdict = verdict_of(current, path, policies_path)
    from harness.judge import policy

    trend = _with_runs(history, records)
    return build_report(records, out_path, verdict=verdict, baseline=baseline, history=trend,
                        changepoints=find_changepoints(trend, current),
                        primary=policy.load(policies_path).gate.primary, verdict_dir=verdict_dir)


def load_history(folder: str | Path | None) -> list[RunRecord]:
    """Run records in ``folder``, oldest first; unreadable files are skipped with a warning."""
    if folder is None or not Path(folder).is_dir():
        return []
    from harness.judge.history import load_records

    loaded = load_records(folder)
    for path, why in loaded.skipped:
        print(f"warning: history: skipped {path}: {why}", file=sys.stderr)
    return list(loaded.records)


def _newest(history: list[RunRecord], folder) -> RunRecord:
    from harness.errors import HarnessError

    if not history:
        raise HarnessError(f"no run record given and none in the history folder {folder}; "
                           f"pass RUN.json or run `t4rec-bench check` first")
    return history[-1]


def _with_runs(history: list[RunRecord], runs: list[RunRecord]) -> list[RunRecord]:
    """The history with the reported runs in it (once each), oldest first."""
    known = {r["run_id"] for r in history}
    extra = [r for r in runs if r["run_id"] not in known]
    return sorted([*history, *extra], key=lambda r: r["started_at"]) if extra else history


def _baseline_path(run: RunRecord, explicit, machine: str | None, verdict) -> Path:
    from harness.documents import baseline

    if explicit:
        return Path(explicit)
    judged = _data.as_verdict(verdict).baseline_path if verdict is not None else None
    return Path(judged) if judged else baseline.default_path(run["profile"],
                                                             machine or run["environment"]["machine_class"])


def _load_baseline(path: Path) -> dict | None:
    from harness.documents import baseline

    return baseline.load(path) if path.is_file() else None


def find_changepoints(history: list[RunRecord], current: RunRecord) -> list | None:
    """Change points of the current run's context; None when change detection is unavailable."""
    try:
        from harness.judge import changepoints
        from harness.judge import history as historymod

        series = [s for s in historymod.record_series(history) if s.context == _data.history_context(current)]
        return changepoints.detect_all(series)
    except ImportError as exc:
        print(f"note: report: change points not shown ({exc})", file=sys.stderr)
        return None
