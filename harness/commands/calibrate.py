"""`t4rec-bench calibrate --profile P --runs K`: A/A runs, measured noise and the policy's error rates.

Runs the profile K times unchanged (or reads K existing records with --records), then
compares every run against baselines built from the other runs, exactly as `check` would
(a baseline of --baseline-size runs, a current group of --current-size runs). Reports per
measurement: median, MAD, coefficient of variation (raw and speed-normalised, to show
where normalisation helps), the false-positive rate of the current policy and its minimum
detectable effect; and for the whole gate the share of comparisons that would have failed.
Writes reports/calibration-<profile>-<machine>-<time>.json.
"""

from __future__ import annotations

FORMAT_VERSION = 1
KIND = "t4rec-bench/calibration"
FLAGGED = ("regressed", "improved")


def add_parser(subparsers):
    from . import _common

    p = subparsers.add_parser(
        "calibrate", help="A/A runs: noise, false-positive rate and detectable effect of the policy",
        description="Run PROFILE K times unchanged and measure how the comparison policy behaves on them.")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--runs", type=_common.positive_int, default=20, metavar="K",
                   help="A/A runs (default 20; one comparison each)")
    p.add_argument("--baseline-size", type=_common.positive_int, default=10, metavar="N",
                   help="runs per baseline in each comparison (default 10, as `baseline record`)")
    p.add_argument("--current-size", type=_common.positive_int, default=1, metavar="M",
                   help="runs per current group (default 1, as `check`)")
    p.add_argument("--records", nargs="+", metavar="PATH",
                   help="analyse these run records (files or folders) instead of running the profile")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--history", default=_common.DEFAULT_HISTORY, metavar="DIR",
                   help="history folder for the new run records (default: %(default)s)")
    p.add_argument("--out", metavar="PATH", help="calibration JSON (default: reports/calibration-...json)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)
    return p


def analyse(records: list[dict], baseline_size: int | None = 10, current_size: int = 1, policies=None) -> dict:
    """Noise and policy behaviour over A/A ``records`` (one workload). Pure: reads records only."""
    from harness import stats

    splits = stats.aa_splits(len(records), baseline_size, current_size)
    verdicts = [_aa_verdict(records, cur, base, policies) for cur, base in splits]
    names = list(dict.fromkeys(m["name"] for r in records for m in r["measurements"]))
    gate = stats.false_positive_rate(v.overall == "regressed" for v in verdicts)
    return {"runs": len(records), "baseline_size": len(splits[0][1]), "current_size": current_size,
            "comparisons": len(verdicts), "gate_false_positive": _rate(gate),
            "gate_overall": {v: sum(x.overall == v for x in verdicts) for v in {x.overall for x in verdicts}},
            "measurements": [_row(name, records, verdicts) for name in names]}


def _aa_verdict(records, cur, base, policies):
    from harness import baseline, record
    from harness.compare import compare

    group = [records[i] for i in cur]
    current = group[0] if len(group) == 1 else record.merge_repetitions(group)
    return compare(current, baseline.from_records([records[i] for i in base]), policies)


def _rate(rate) -> dict:
    return {"count": rate.count, "n": rate.n, "rate": rate.rate, "upper_95": rate.upper_95}


def _row(name: str, records: list[dict], verdicts) -> dict:
    from statistics import median

    from harness import stats

    values = [m["value"] for r in records for m in r["measurements"] if m["name"] == name]
    first = next(m for r in records for m in r["measurements"] if m["name"] == name)
    s = stats.summary(values)
    mine = [m for v in verdicts for m in v.measurements if m.name == name]
    mdes = [m.min_detectable_pct for m in mine if m.min_detectable_pct is not None]
    thresholds = [m.threshold_pct for m in mine if m.threshold_pct is not None]
    return {"name": name, "unit": first["unit"], "kind": first["kind"], "n": s.n, "median": s.median,
            "mad": s.mad, "cv": s.cv, "robust_cv": s.robust_cv, "cv_normalised": _cv_normalised(name, records),
            "false_positive": _rate(stats.false_positive_rate(m.verdict in FLAGGED for m in mine)),
            "false_regressed": _rate(stats.false_positive_rate(m.verdict == "regressed" for m in mine)),
            "unstable_share": sum(m.verdict == "unstable" for m in mine) / len(mine) if mine else None,
            "threshold_pct": median(thresholds) if thresholds else None,
            "min_detectable_pct": median(mdes) if mdes else None}


def _cv_normalised(name: str, records: list[dict]) -> float | None:
    """CV of the measurement divided (time) or multiplied (throughput) by each run's machine speed."""
    from statistics import median

    from harness import stats

    out = []
    for r in records:
        m = next((m for m in r["measurements"] if m["name"] == name), None)
        speed = (r.get("calibration") or {}).get("speed_s") or []
        if m is None or m["kind"] not in ("time", "throughput") or not speed:
            return None
        out.append(m["value"] / median(speed) if m["kind"] == "time" else m["value"] * median(speed))
    return stats.summary(out).cv if len(out) > 1 else None


def _records(args) -> list[dict]:
    from pathlib import Path

    from harness import record
    from harness.errors import HarnessError

    paths = []
    for item in args.records:
        p = Path(item)
        paths.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    records = [record.load(p) for p in paths]
    records = [r for r in records if r["status"] == "ok" and not r["faults"]]
    hashes = {r["workload_hash"] for r in records}
    if len(hashes) > 1:
        raise HarnessError(f"--records hold {len(hashes)} different workloads; pass one profile's plain runs")
    return records


def _run(args) -> list[dict]:
    from harness import record
    from harness.errors import HarnessError

    from . import _common
    from .check import run_config

    config = _common.config_from_args(args)
    if config.faults.active():
        raise HarnessError("calibrate measures unchanged (A/A) runs: remove the faults.* overrides")
    records = []
    for i in range(args.runs):
        if not args.quiet:
            print(f"A/A run {i + 1}/{args.runs}", flush=True)
        rec = run_config(config, 1, args.quiet)
        record.append_history(rec, args.history)
        if rec["status"] != "ok":
            raise HarnessError(f"A/A run {i + 1} failed: {rec['failure']['message']}")
        records.append(rec)
    return records


def main(args) -> int:
    import datetime as dt
    from pathlib import Path

    from harness import atomic, policy
    from harness.errors import HarnessError

    policies = policy.load(args.policies)
    records = _records(args) if args.records else _run(args)
    if len(records) < args.baseline_size + args.current_size:
        raise HarnessError(f"{len(records)} runs: need at least --baseline-size + --current-size "
                           f"({args.baseline_size + args.current_size})")
    result = analyse(records, args.baseline_size, args.current_size, policies)
    machine = records[0]["environment"]["machine_class"]
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"format_version": FORMAT_VERSION, "kind": KIND, "profile": records[0]["profile"], "machine": machine,
           "date": now.isoformat(timespec="seconds"), "policy_source": policies.source,
           "run_ids": [r["run_id"] for r in records], **result}
    out = Path(args.out or f"reports/calibration-{doc['profile']}-{machine}-{now:%Y%m%dT%H%M%S}.json")
    atomic.write_json(out, doc)
    print(render(doc), end="")
    print(f"wrote {out}")
    return 0


def render(doc: dict) -> str:
    """The calibration as a terminal table."""
    g = doc["gate_false_positive"]
    lines = [f"calibration: profile {doc['profile']} on {doc['machine']}, {doc['runs']} A/A runs, "
             f"{doc['comparisons']} comparisons ({doc['current_size']} run(s) against baselines of "
             f"{doc['baseline_size']})",
             f"gate false-positive rate: {g['count']}/{g['n']} = {100 * g['rate']:.1f}% "
             f"(95% upper bound {100 * g['upper_95']:.1f}%)", "",
             f"{'measurement':30} {'median':>12} {'MAD':>10} {'CV':>7} {'CV norm':>7} {'FP':>7} "
             f"{'unstable':>8} {'thresh':>7} {'MDE':>7}"]
    pct = lambda x: "-" if x is None else f"{100 * x:.2f}%"  # noqa: E731
    num = lambda x: "-" if x is None else f"{x:.1f}%"  # noqa: E731
    for m in doc["measurements"]:
        fp = m["false_positive"]
        lines.append(f"{m['name']:30} {m['median']:>12.5g} {m['mad']:>10.3g} {pct(m['cv']):>7} "
                     f"{pct(m['cv_normalised']):>7} {fp['count']:>3}/{fp['n']:<3} {pct(m['unstable_share']):>8} "
                     f"{num(m['threshold_pct']):>7} {num(m['min_detectable_pct']):>7}")
    return "\n".join(lines) + "\n"
