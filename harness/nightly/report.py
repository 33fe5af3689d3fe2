"""The HTML report a nightly run ends with: the newest commit's record, its history, change points and
the verdict against the stored baseline when there is one (harness/commands/nightly.py prints where it
went)."""

from __future__ import annotations

from pathlib import Path

from harness.documents.record_types import RunRecord
from harness.errors import HarnessError


def newest(new_records: list[Path], out_dir: Path, history_dir: Path, repo: Path) -> tuple[Path | None, str | None]:
    """(the report's path, or None without new records; why the baseline was not used, or None)."""
    if not new_records:
        return None, None
    from harness import vcs
    from harness.documents import record
    from harness.judge import changepoints, history
    from harness.output.report import build_report

    records = history.in_commit_order(history.load_records(history_dir).records, vcs.order(repo))
    new_ids = {record.load(p)["run_id"] for p in new_records}
    rec = [r for r in records if r["run_id"] in new_ids][-1]  # the newest commit's run
    series = [s for s in history.record_series(records) if s.context == history.context_of(rec)]
    verdict, base, why = _verdict(rec)
    path = build_report([rec], out_dir / "index.html", verdict=verdict, baseline=base,
                        history=list(records), changepoints=changepoints.detect_all(series))
    return path, why


def _verdict(rec: RunRecord):
    """(verdict, baseline, None) against baselines/<machine class>/<profile>.json; (None, None, why) when
    it cannot be read, and (None, None, None) when there is none."""
    from harness.documents import baseline
    from harness.judge.decide import load_baseline, verdict_of

    path = baseline.default_path(rec["profile"], rec["environment"]["machine_class"])
    try:
        base = load_baseline(path)
    except HarnessError as exc:
        return None, None, str(exc)
    return (verdict_of(rec, path, stored=base), base, None) if base is not None else (None, None, None)
