"""Where a check's time goes outside the measured stages.

    .venv/bin/python benchmarks/check_time.py --profile ci --reference HEAD --pairs 3

Runs PAIRS alternating pairs of the working tree (harness.run.runner, as `check` runs its current side)
and of REV (``python -m harness.cli run`` of that commit, as `check` runs its reference), then times a
sequential look (the judge) and the HTML report. For each side it splits the wall time of a run into:
before the first stage (process start-up, the worker's imports of the harness, the speed workload),
the stages (what the record measures), gaps between stages inside the worker (numerics, seeding,
fingerprints), and after the last stage (the worker's exit, the record, and for the reference the
``harness.cli run`` wrapper: its start-up, environment scan, record write and read). Medians over the
pairs. With REV = the commit before a change to the harness, the two columns show what it cut.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def split(rec: dict, wall: float) -> dict:
    stages = rec["stages"]
    inside = sum(s["end_s"] - s["start_s"] for s in stages)
    first, last = stages[0]["start_s"], max(s["end_s"] for s in stages)
    return {"wall": wall, "before first stage": first, "stages": inside,
            "between stages": (last - first) - inside, "after last stage": wall - last}


def main(argv=None) -> int:
    from harness.config import build_config
    from harness.documents import record
    from harness.judge import decide, policy
    from harness.judge import gate_errors as seqcal
    from harness.pairing import reference, together
    from harness.run import runner

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="ci")
    p.add_argument("--reference", default="HEAD")
    p.add_argument("--pairs", type=int, default=3)
    args = p.parse_args(argv)
    config = build_config(args.profile, {"device": "cpu"})
    rows = {"current": [], "reference": []}
    with tempfile.TemporaryDirectory() as tmp:
        ref = reference.checkout(args.reference, Path(tmp) / "code")
        env = runner.collect_environment(config)
        cur_recs, ref_recs = [], []
        for i in range(args.pairs):
            for side in together.order(i, ["reference", "current"]):
                t0 = time.perf_counter()
                if side == "current":
                    rec = runner.run(config, environment=env)
                    cur_recs.append(rec)
                else:
                    rec = reference.run_once(ref, reference.run_argv(config), Path(tmp), 3600)
                    ref_recs.append(rec)
                rows[side].append(split(rec, time.perf_counter() - t0))
        cur, refm = record.merge_repetitions(cur_recs), record.merge_repetitions(ref_recs)
        gate = policy.load().gate
        look = seqcal.in_session(refm, gate, "alternating", final=True)
        t0 = time.perf_counter()
        decide.verdict_of(cur, None, in_session=look)
        first_look = time.perf_counter() - t0
        t0 = time.perf_counter()
        decide.verdict_of(cur, None, in_session=look)
        look = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            from harness.output.report import build_from_files

            build_from_files(Path(tmp) / "index.html", [cur], history_dir="reports/history")
            report_s = f"{time.perf_counter() - t0:.2f} s"
        except Exception as exc:  # noqa: BLE001 - the report is optional here
            report_s = f"not built ({type(exc).__name__}: {exc})"
    print(f"{'seconds, median of ' + str(args.pairs):28} {'current (working tree)':>24} "
          f"{'reference ' + ref.commit[:10]:>24}")
    for key in rows["current"][0]:
        a = statistics.median(r[key] for r in rows["current"])
        b = statistics.median(r[key] for r in rows["reference"])
        print(f"{key:28} {a:>24.2f} {b:>24.2f}")
    print(f"a sequential look (the judge): first {first_look:.2f} s (imports), then {look:.3f} s each")
    print(f"the HTML report: {report_s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
