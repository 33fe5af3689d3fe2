"""Write the report tests' record fixtures from real pipeline runs (about 4 smoke runs, 3-4 minutes).

    .venv/bin/python tests/data/make_fixtures.py

Writes tests/data/report/:
  history/*.json   three plain smoke runs and one with injected faults (a slowed train stage,
                   memory ballast, a tiny learning rate), oldest first; each a real run record
  baseline.json    a baseline file built from the three plain runs (their repetitions pooled)
  current.json     the faulted run: the "regressed" case the report must show

Nothing here is typed by hand: every figure comes out of harness.run.runner.run. Re-run this
script after a record-format change; the tests read whatever it wrote.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "report"
PLAIN_RUNS = 3
# the current run's faults: a slower train stage (time), ballast (memory), a tiny learning rate
# (quality: the metrics of a deterministic run must match exactly, so this one surely regresses)
FAULTS = {"faults.slowdown_stage": "train", "faults.slowdown_fraction": 0.5, "faults.ballast_mb": 300,
          "faults.lr_scale": 0.01}


def _run(n: int, overrides: dict) -> dict:
    """Run n of the set; a finished run is kept in OUT/.runs so an interrupted script resumes."""
    import json

    from harness.config import build_config
    from harness.documents import record
    from harness.run import runner

    done = OUT / ".runs" / f"{n}.json"
    if done.is_file():
        return record.load(done)
    rec = runner.run(build_config("smoke", overrides), repeat=1, command="tests/data/make_fixtures.py")
    if rec["status"] != "ok":
        raise SystemExit(f"smoke run failed: {rec['failure']}")
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(rec))
    return rec


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from harness.documents import atomic, baseline, record

    plain = [_run(n, {}) for n in range(PLAIN_RUNS)]
    faulted = _run(PLAIN_RUNS, FAULTS)
    for old in [OUT / "history", OUT / "baseline.json", OUT / "current.json"]:
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    for rec in [*plain, faulted]:
        record.append_history(rec, OUT / "history")
    atomic.write_json(OUT / "baseline.json", baseline.from_records(plain, command="tests/data/make_fixtures.py"))
    record.write(faulted, OUT / "current.json")
    shutil.rmtree(OUT / ".runs")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
