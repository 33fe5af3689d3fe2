"""`t4rec-bench calibrate`: A/A runs, measured noise and the policy's error rates.

Runs the profile K times unchanged (or reads existing records with --records) and reports:
- per measurement: median, MAD, coefficient of variation (raw, MAD-based and
  speed-normalised, to show whether normalisation helps), its policy and one-sided alpha,
  and the minimum detectable effect (MDE, 80% power) at the requested sample sizes;
- the design table: the MDE of the primary endpoint (total.wall_s) for several
  (new runs, baseline runs) configurations, and the smallest one that meets the policy's bar;
- the false-positive rate of the current policy: --comparisons A/A comparisons of
  --current-size runs against baselines of --baseline-size other runs, judged exactly as
  `check` would. Splits are disjoint when the runs suffice, else resampled (a seeded random
  partition per comparison; runs recur across comparisons, so they are not independent).
With --reference REV (HEAD for A/A) it calibrates the gate as `check` runs it: K runs of the
working tree alternating with K runs of REV in this session, and each A/A comparison judges a
current group drawn from the first pool against a reference group drawn from the second, with
the in-session thresholds.
Writes reports/calibration-<profile>-<machine>-<time>.json.
"""

from __future__ import annotations

from harness.documents.record import by_name

FORMAT_VERSION = 2
KIND = "t4rec-bench/calibration"
DESIGNS = ((1, 10), (1, 20), (5, 20), (10, 20), (10, 30))  # (new runs, baseline runs) always shown
AB_DESIGNS = ((5, 5), (8, 8), (10, 10), (12, 12), (15, 15), (20, 20))  # (new runs, reference runs)


def add_parser(subparsers):
    from harness.commands import _common

    p = subparsers.add_parser(
        "calibrate", help="A/A runs: noise, false-positive rate and detectable effect of the policy",
        description="Run PROFILE K times unchanged (or read A/A run records) and measure how the "
                    "comparison policy behaves on them.")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--runs", type=_common.positive_int, metavar="K",
                   help="A/A runs to make (default: [gate] baseline_runs + repeat of the policy, the fewest "
                        "that hold the gate configuration; with --mode: pairs per mode, default [gate] repeat)")
    p.add_argument("--records", nargs="+", metavar="PATH",
                   help="analyse these run records (files or folders) instead of running the profile")
    p.add_argument("--reference", metavar="REV",
                   help="calibrate the in-session design of `check`: alternate the K runs with K runs of this "
                        "git commit (HEAD: an A/A pair of pools) and judge current groups against reference "
                        "groups (sizes: --current-size and --baseline-size, default [gate] repeat each)")
    p.add_argument("--reference-records", nargs="+", metavar="PATH",
                   help="with --records: the reference pool's run records (files or folders)")
    p.add_argument("--baseline-size", type=_common.positive_int, metavar="N",
                   help="runs per baseline in each comparison (default: [gate] baseline_runs of the policy)")
    p.add_argument("--current-size", type=_common.positive_int, metavar="M",
                   help="runs per current group (default: [gate] repeat of the policy, as `check`)")
    p.add_argument("--comparisons", type=_common.positive_int, default=100, metavar="C",
                   help="A/A comparisons (default %(default)s)")
    p.add_argument("--split-seed", type=int, default=0, metavar="S", help="seed of the A/A split draws (default 0)")
    p.add_argument("--splits", choices=("random", "ordered"), default="random",
                   help="random: disjoint or resampled random partitions (default); ordered: in time order, "
                        "a baseline of consecutive runs against the runs right after it (shows drift)")
    p.add_argument("--mode", choices=("duet", "alternating", "both"),
                   help="calibrate the sequential gate (with --reference, or --records and --reference-records): "
                        "pairs in this mode (both: the two modes taking turns), then the family-wise A/A rate "
                        "with early stopping over --comparisons simulated checks (harness/commands/calibrate_gate.py)")
    p.add_argument("--checks", type=int, default=0, metavar="K",
                   help="with --mode: also run K real A/A checks through the gate (default 0)")
    p.add_argument("--plant", default="train=0.25", metavar="STAGE=FRACTION",
                   help="with --mode: simulate faults.slowdown of STAGE by FRACTION on the pairs (default %(default)s)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--history", default=_common.DEFAULT_HISTORY, metavar="DIR",
                   help="history folder for the new run records (default: %(default)s)")
    p.add_argument("--out", metavar="PATH", help="calibration JSON (default: reports/calibration-...json)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)
    return p


# --- analysis (pure: reads records only) ------------------------------------------------------

def analyse(records: list[dict], baseline_size: int, current_size: int = 1, policies=None,
            comparisons: int = 100, seed: int = 0, ordered: bool = False,
            reference: list[dict] | None = None) -> dict:
    """Noise, design table and (if the runs suffice) the A/A false-positive rate over ``records``.

    ``reference``: a second pool, run in the same session alternating with ``records`` (the
    in-session design): comparisons then draw the current group from ``records`` and the
    baseline group from ``reference``, judged with the in-session thresholds; the noise rows
    and the design table pool both.
    """
    from harness.judge import policy

    policies = policies or policy.load()
    records = sorted(records, key=lambda r: r["started_at"]) if ordered else records
    every = records + (reference or [])
    names = [n for n in dict.fromkeys(m["name"] for r in every for m in r["measurements"])
             if all(n in by_name(r) for r in every)]
    family = [n for n in names if _policy(policies, every, n).in_family]
    alphas = policies.gate.alphas(family)
    paired = bool(reference) and len(records) == len(reference) and current_size == baseline_size
    pair_sd = (lambda n: _pair_sd(n, records, reference)) if paired else (lambda n: None)  # noqa: E731
    rows = {n: _noise_row(n, every, _policy(policies, every, n), alphas.get(n), baseline_size, current_size,
                          pair_sd(n)) for n in names}
    fits = (current_size <= len(records) and baseline_size <= len(reference) if reference
            else baseline_size + current_size <= len(records))
    doc = {"runs": len(records), "reference_runs": len(reference or []), "baseline_size": baseline_size,
           "current_size": current_size, "gate": _gate_doc(policies.gate, family),
           "design": _design(every, policies, in_session=bool(reference), sd_for_mde=pair_sd(policies.gate.primary)
                             if policies.gate.primary in names else None),
           "seconds_per_run": _seconds_per_run(every), "aa": None,
           "aa_note": None if fits else _no_fit_note(len(records), baseline_size, current_size)}
    if fits and reference:
        doc["aa"] = _aa_two_pools(records, reference, baseline_size, current_size, comparisons, seed, policies, rows)
    elif fits:
        doc["aa"] = _aa(records, baseline_size, current_size, comparisons, seed, policies, rows, ordered)
    doc["measurements"] = list(rows.values())
    return doc


def _policy(policies, records, name):
    m = by_name(records[0])[name]
    return policies.for_measurement(name, m["kind"])


def _values(name: str, records: list[dict], pol=None) -> list[float]:
    """Each record's value of ``name`` (its median), speed-normalised if the policy always normalises."""
    out = [by_name(r)[name]["value"] for r in records]
    if pol is not None and pol.normalise == "always":
        return _normalised(name, records) or out
    return out


def _pair_sd(name: str, records: list[dict], reference: list[dict]) -> float | None:
    """Noise of one run within a pair of alternating runs: sd(log c_i - log r_i) / sqrt(2), runs
    in time order. Drift between pairs does not count: the paired test does not see it."""
    import math
    from statistics import stdev

    by_time = lambda rs: sorted(rs, key=lambda r: r["started_at"])  # noqa: E731
    c, r = ([by_name(x)[name]["value"] for x in by_time(p)] for p in (records, reference))
    if min(c + r) <= 0 or len(c) < 3:
        return None
    return stdev(math.log(a) - math.log(b) for a, b in zip(c, r)) / math.sqrt(2)


def _noise_row(name: str, records: list[dict], pol, alpha: float | None, n_base: int, n_cur: int,
               pair_sd: float | None = None) -> dict:
    from harness.judge import stats

    m = by_name(records[0])[name]
    values = _values(name, records, pol)
    s = stats.summary(values)
    logs = stats.log_values(values) if len(values) > 1 else None
    sd_log = stats.summary(logs).stdev if logs else None
    gated = pol.rule != "report-only"
    level = alpha if alpha is not None else (1 - pol.confidence) / 2
    if pair_sd is not None and m["kind"] in ("time", "throughput"):
        sd_log = pair_sd  # the paired t test's noise (compare.py: times against the in-session reference)
        mde = (stats.min_detectable_pct(sd_log, n_base, n_cur, level, pol.power, not m["higher_is_better"],
                                        df=n_cur - 1) if pol.rule == "significance" else None)
    else:
        mde = (_mde(pol, sd_log, n_base, n_cur, level, not m["higher_is_better"])
               if pol.rule == "significance" and sd_log is not None else None)
    norm = _normalised(name, records)
    return {"name": name, "unit": m["unit"], "kind": m["kind"], "policy": pol.name, "rule": pol.rule,
            "gated": gated, "alpha": alpha, "n": s.n, "median": s.median, "mad": s.mad, "cv": s.cv,
            "robust_cv": s.robust_cv, "cv_normalised": stats.summary(norm).cv if norm and len(norm) > 1 else None,
            "sd_log": sd_log, "threshold_pct": _threshold(pol, s.median),
            "min_detectable_pct": mde, "false_regressed": None, "false_improved": None, "unstable_share": None}


def _mde(pol, sd_log: float, n_base: int, n_cur: int, alpha: float, increase: bool = True,
         paired: bool = False) -> float | None:
    """The minimum detectable effect of the policy's test (rank or t; ``paired``: the paired t) at this noise."""
    from harness.judge import stats

    if paired:
        return stats.min_detectable_pct(sd_log, n_base, n_cur, alpha, pol.power, increase=increase, df=n_cur - 1)
    if pol.test == "rank" and n_base >= 2 and n_cur >= 2:
        return stats.min_detectable_rank_pct(sd_log, n_base, n_cur, alpha, pol.power, increase)
    return stats.min_detectable_pct(sd_log, n_base, n_cur, alpha, pol.power, increase=increase)


def _threshold(pol, median: float) -> float | None:
    """The practical threshold in percent, as compare applies it: max(threshold_pct, min_change)."""
    if pol.rule != "significance":
        return None
    return max(pol.threshold_pct, 100.0 * pol.min_change / abs(median)) if median else pol.threshold_pct


def _normalised(name: str, records: list[dict]) -> list[float] | None:
    """The measurement divided (time) or multiplied (throughput) by each run's machine speed."""
    from statistics import median

    out = []
    for r in records:
        m = by_name(r).get(name)
        speed = (r.get("calibration") or {}).get("speed_s") or []
        if m is None or m["kind"] not in ("time", "throughput") or not speed:
            return None
        out.append(m["value"] / median(speed) if m["kind"] == "time" else m["value"] * median(speed))
    return out


def _gate_doc(gate, family: list[str]) -> dict:
    from harness.judge.compare import family_note

    return {"family_alpha": gate.family_alpha, "primary": gate.primary, "alpha_primary": gate.alpha_primary,
            "repeat": gate.repeat, "baseline_runs": gate.baseline_runs, "family_size": len(family),
            "note": family_note(gate, family) if family else "no gated measurements"}


def _design(records: list[dict], policies, in_session: bool = False, sd_for_mde: float | None = None) -> dict | None:
    """MDE of the primary endpoint for several configurations and the smallest one meeting its bar."""
    from harness.judge import stats

    gate = policies.gate
    if not all(gate.primary in by_name(r) for r in records) or len(records) < 3:
        return None
    pol = _policy(policies, records, gate.primary)
    logs = stats.log_values(_values(gate.primary, records, pol))
    if logs is None:
        return None
    sd, robust = stats.summary(logs).stdev, stats.robust_sd(logs)
    paired = sd_for_mde is not None
    if paired:
        sd = sd_for_mde  # paired design: the noise within a pair of alternating runs
    configs = list(dict.fromkeys((AB_DESIGNS + ((gate.repeat, gate.repeat),)) if in_session
                                 else (DESIGNS + ((gate.repeat, gate.baseline_runs),))))
    rows = [{"current": c, "baseline": b,
             "mde_pct": _mde(pol, sd, b, c, gate.alpha_primary, paired=paired and b == c),
             "mde_t_pct": stats.min_detectable_pct(sd, b, c, gate.alpha_primary, pol.power)}
            for c, b in configs]
    limit = pol.max_mde_pct if pol.max_mde_pct is not None else 10.0
    if in_session or pol.test == "rank":
        best = next(((c, b, m) for c, b in (AB_DESIGNS if in_session else [(c, b) for c in range(2, 11)
                                                                           for b in (10, 15, 20, 25, 30, 35, 40)])
                     if (m := _mde(pol, sd, b, c, gate.alpha_primary, paired=paired and b == c)) <= limit), None)
    else:
        best = stats.smallest_design(sd, gate.alpha_primary, limit, pol.power)
    return {"measurement": gate.primary, "alpha": gate.alpha_primary, "power": pol.power, "sd_log": sd,
            "in_session": in_session, "test": pol.test, "paired": paired,
            "robust_sd_log": robust, "limit_pct": limit, "rows": rows,
            "smallest": None if best is None else {"current": best[0], "baseline": best[1], "mde_pct": best[2]}}


def _seconds_per_run(records: list[dict]) -> float | None:
    """Median wall time of one run record (start to finish, worker start-up included), per repetition."""
    import datetime as dt
    from statistics import median

    try:
        spans = [(dt.datetime.fromisoformat(r["finished_at"]) - dt.datetime.fromisoformat(r["started_at"]))
                 .total_seconds() / max(1, r.get("repeat", 1)) for r in records]
    except (KeyError, TypeError, ValueError):
        return None
    return median(spans) if spans else None


def _no_fit_note(k: int, n_base: int, n_cur: int) -> str:
    fits = [(c, k - c) for c in (10, 5, 1) if k - c >= 2]
    hint = ", ".join(f"--current-size {c} --baseline-size {b}" for c, b in fits) or "more runs"
    return (f"false-positive rate not estimated: {k} runs cannot hold a baseline of {n_base} plus a current "
            f"group of {n_cur} ({n_base + n_cur} runs needed). Configurations that fit: {hint}")


def _aa(records, n_base: int, n_cur: int, comparisons: int, seed: int, policies, rows: dict,
        ordered: bool = False) -> dict:
    from harness.judge import stats

    mode, splits = stats.aa_splits(len(records), n_base, n_cur, comparisons, seed, ordered)
    verdicts = [_aa_verdict(records, cur, base, policies) for cur, base in splits]
    return _aa_summary(verdicts, rows, mode, seed, len(records) // (n_base + n_cur))


def _aa_two_pools(records, reference, n_base: int, n_cur: int, comparisons: int, seed: int, policies,
                  rows: dict) -> dict:
    """A/A of the in-session design: current groups from ``records``, reference groups from ``reference``."""
    from harness.documents import baseline, record
    from harness.judge import stats
    from harness.judge.compare import compare

    paired = len(records) == len(reference) and n_cur == n_base  # alternating pools: run i of each side a pair
    if paired:
        records, reference = (sorted(p, key=lambda r: r["started_at"]) for p in (records, reference))
    mode, splits = stats.aa_two_pools(len(records), len(reference), n_cur, n_base, comparisons, seed, paired)
    verdicts = []
    for cur, ref in splits:
        group = [records[i] for i in cur]
        current = group[0] if len(group) == 1 else record.merge_repetitions(group)
        doc = baseline.from_records([reference[i] for i in ref])
        verdicts.append(compare(current, doc, policies,
                                reference={"record": doc["record"], "provenance": {"paired": paired}}))
    mode = f"{mode}, paired" if paired else mode
    return _aa_summary(verdicts, rows, mode, seed, min(len(records) // n_cur, len(reference) // n_base))


def _aa_summary(verdicts, rows: dict, mode: str, seed: int, disjoint_possible: int) -> dict:
    from harness.judge import stats

    for name, row in rows.items():
        mine = [m for v in verdicts for m in v.measurements if m.name == name]
        row["false_regressed"] = _rate(stats.false_positive_rate(m.verdict == "regressed" for m in mine))
        row["false_improved"] = _rate(stats.false_positive_rate(m.verdict == "improved" for m in mine))
        row["unstable_share"] = sum(m.verdict == "unstable" for m in mine) / len(mine)
    gate = stats.false_positive_rate(v.overall == "regressed" for v in verdicts)
    return {"splits": mode, "seed": seed, "comparisons": len(verdicts), "disjoint_possible": disjoint_possible,
            "gate_false_positive": _rate(gate),
            "gate_overall": {v: sum(x.overall == v for x in verdicts) for v in sorted({x.overall for x in verdicts})}}


def _aa_verdict(records, cur, base, policies):
    from harness.documents import baseline, record
    from harness.judge.compare import compare

    group = [records[i] for i in cur]
    current = group[0] if len(group) == 1 else record.merge_repetitions(group)
    return compare(current, baseline.from_records([records[i] for i in base]), policies)


def _rate(rate) -> dict:
    return {"count": rate.count, "n": rate.n, "rate": rate.rate, "upper_95": rate.upper_95}


# --- command --------------------------------------------------------------------------------

def _records(items) -> list[dict]:
    from pathlib import Path

    from harness.documents import record
    from harness.errors import HarnessError

    paths = []
    for item in items:
        p = Path(item)
        paths.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])  # not reference/ below a history
    records = [record.load(p) for p in paths]
    records = [r for r in records if r["status"] == "ok" and not r["faults"]]
    hashes = {r["workload_hash"] for r in records}
    if len(hashes) > 1:
        raise HarnessError(f"--records hold {len(hashes)} different workloads; pass one profile's plain runs")
    return records


def _run(args, runs: int) -> list[dict]:
    from harness.commands import _common
    from harness.commands.check import run_config
    from harness.documents import record
    from harness.errors import HarnessError

    config = _common.config_from_args(args)
    if config.faults.active():
        raise HarnessError("calibrate measures unchanged (A/A) runs: remove the faults.* overrides")
    records = []
    for i in range(runs):
        if not args.quiet:
            print(f"A/A run {i + 1}/{runs}", flush=True)
        rec = run_config(config, 1, args.quiet)
        record.append_history(rec, args.history)
        if rec["status"] != "ok":
            raise HarnessError(f"A/A run {i + 1} failed: {rec['failure']['message']}")
        records.append(rec)
    return records


def _run_with_reference(args, runs: int) -> tuple[list[dict], list[dict]]:
    """``runs`` runs of the working tree alternating with ``runs`` runs of --reference, as `check` makes them."""
    import tempfile
    from pathlib import Path

    from harness.commands import _common
    from harness.documents import record
    from harness.errors import HarnessError
    from harness.output.progress import Progress
    from harness.run import reference

    config = _common.config_from_args(args)
    if config.faults.active():
        raise HarnessError("calibrate measures unchanged (A/A) runs: remove the faults.* overrides")
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        ref = reference.checkout(args.reference, Path(tmp))
        current, arms, dropped = reference.interleaved(config, runs, ref, Progress(enabled=not args.quiet))
    refs = arms["reference"]
    for rec in current:
        record.append_history(rec, args.history)
    for rec in refs:
        record.append_history(rec, Path(args.history) / "reference")
    if dropped:
        raise HarnessError(dropped)
    failed = [r for r in current if r["status"] != "ok"]
    if failed:
        raise HarnessError(f"an A/A run failed: {failed[0]['failure']['message']}")
    return current, refs


def main(args) -> int:
    import datetime as dt
    from pathlib import Path

    from harness.documents import atomic
    from harness.errors import HarnessError
    from harness.judge import policy

    policies = policy.load(args.policies)
    if args.mode:
        return _main_sequential(args, policies)
    n_base = args.baseline_size or policies.gate.baseline_runs
    n_cur = args.current_size or policies.gate.repeat
    refs = None
    if args.reference_records and not args.records:
        raise HarnessError("--reference-records needs --records (the current pool)")
    if args.records:
        records = _records(args.records)
        refs = _records(args.reference_records) if args.reference_records else None
    elif args.reference:
        n_base = args.baseline_size or policies.gate.repeat
        records, refs = _run_with_reference(args, args.runs or 3 * policies.gate.repeat)
    else:
        records = _run(args, args.runs or n_base + n_cur)
    if len(records) < 3:
        raise HarnessError(f"{len(records)} usable A/A run(s): need at least 3 to measure noise")
    if refs is not None and args.baseline_size is None:
        n_base = policies.gate.repeat  # the in-session design compares repeat vs repeat runs
    result = analyse(records, n_base, n_cur, policies, args.comparisons, args.split_seed, args.splits == "ordered",
                     reference=refs)
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


def _main_sequential(args, policies) -> int:
    import datetime as dt
    from pathlib import Path

    from harness.commands import _common
    from harness.commands import calibrate_gate as cg
    from harness.documents import atomic, baseline
    from harness.errors import HarnessError
    from harness.judge import judging as judge
    from harness.run import runner

    stage, _, fraction = args.plant.partition("=")
    try:
        plant = (stage, float(fraction)) if stage else None
    except ValueError:
        raise HarnessError(f"--plant {args.plant}: expected STAGE=FRACTION, e.g. train=0.25") from None
    config = _common.config_from_args(args)
    checks, seconds = [], {}
    if args.records:
        if not args.reference_records:
            raise HarnessError("--mode with --records needs --reference-records (the reference pool)")
        pools = {"recorded": (cg.pooled(_records(args.records)), cg.pooled(_records(args.reference_records)))}
    elif args.reference:
        if config.faults.active():
            raise HarnessError("calibrate measures unchanged (A/A) runs: remove the faults.* overrides")
        modes = ["duet", "alternating"] if args.mode == "both" else [args.mode]
        raw = cg.run_pools(args, config, modes, args.runs or policies.gate.repeat, Path(args.history), args.quiet)
        path = baseline.default_path(config.profile, runner.machine_class(config))
        checks = cg.real_checks(args, config, policies, args.checks, path, args.quiet)
        for c in checks:
            cur, refs, _ = raw.setdefault(c["mode"], ([], [], []))
            cur.append(c["record"])
            refs.append(c["reference_record"])
        pools = {m: (cg.pooled(cur), cg.pooled(refs)) for m, (cur, refs, _) in raw.items()}
        seconds = {m: sum(s) / len(s) for m, (_, _, s) in raw.items() if s}
    else:
        raise HarnessError("--mode needs --reference REV (HEAD for A/A) or --records with --reference-records")
    profile = next(iter(pools.values()))[0]["profile"]
    machine = next(iter(pools.values()))[0]["environment"]["machine_class"]
    path = baseline.default_path(profile, machine)
    doc = cg.analyse(pools, policies, judge.load_baseline(path), path, args.policies, args.comparisons,
                     args.split_seed, plant, seconds)
    doc["checks"] = [{k: v for k, v in c.items() if k not in ("record", "reference_record")} for c in checks]
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"format_version": FORMAT_VERSION, "kind": KIND, "profile": profile, "machine": machine,
           "date": now.isoformat(timespec="seconds"), "policy_source": policies.source, "sequential": doc}
    out = Path(args.out or f"reports/calibration-sequential-{profile}-{machine}-{now:%Y%m%dT%H%M%S}.json")
    atomic.write_json(out, doc)
    print("\n".join(cg.render(doc["sequential"])))
    print(f"wrote {out}")
    return 0


# --- text -----------------------------------------------------------------------------------

def _p(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}%"


def render(doc: dict) -> str:
    """The calibration as terminal text: header, noise table, design table, A/A result."""
    runs = f"{doc['runs']} A/A runs" + (f" + {doc['reference_runs']} reference runs (in-session design)"
                                         if doc.get("reference_runs") else "")
    lines = [f"calibration: profile {doc['profile']} on {doc['machine']}, {runs}; "
             f"policy {doc['policy_source']}", f"gate: {doc['gate']['note']}", ""]
    lines += _noise_lines(doc) + [""] + _design_lines(doc) + [""] + _aa_lines(doc)
    return "\n".join(lines) + "\n"


def _noise_lines(doc: dict) -> list[str]:
    aa = doc["aa"] is not None
    size = f"{doc['current_size']}v{doc['baseline_size']}"
    head = (f"{'measurement':30} {'policy':16} {'alpha':>8} {'median':>11} {'MAD':>9} {'CV':>6} {'MAD-CV':>6} "
            f"{'CV norm':>7} {'thresh':>7} {'MDE ' + size:>9}")
    head += f" {'FP reg':>7} {'FP imp':>7} {'unstable':>8}" if aa else ""
    out = [f"noise per measurement over all {doc['runs']} runs; MDE at {doc['current_size']} new vs "
           f"{doc['baseline_size']} baseline runs, 80% power" + ("; A/A flags per comparison" if aa else ""), head]
    for m in doc["measurements"]:
        alpha = "-" if m["alpha"] is None else f"{100 * m['alpha']:.2g}%"
        cv = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
        line = (f"{m['name']:30} {m['policy'][:16]:16} {alpha:>8} {m['median']:>11.5g} {m['mad']:>9.3g} "
                f"{cv(m['cv']):>6} {cv(m['robust_cv']):>6} {cv(m['cv_normalised']):>7} "
                f"{_p(m['threshold_pct']):>7} {_p(m['min_detectable_pct']):>9}")
        if aa:
            fr, fi = m["false_regressed"], m["false_improved"]
            unstable = _p(100 * m["unstable_share"], 0)
            line += f" {fr['count']:>3}/{fr['n']:<3} {fi['count']:>3}/{fi['n']:<3} {unstable:>8}"
        out.append(line)
    return out


def _design_lines(doc: dict) -> list[str]:
    d = doc["design"]
    if d is None:
        return ["design: no positive values of the primary endpoint in every run; no MDE table"]
    per_run = doc.get("seconds_per_run")
    gate = doc["gate"]
    test = {"rank": "Mann-Whitney U", "t": "t test"}.get(d.get("test"), "t test")
    if d.get("paired"):
        test = "paired t on the log ratios of alternating runs"
    out = [f"design: minimum detectable slowdown of {d['measurement']} by the policy's {test} (80% power, "
           f"one-sided alpha {100 * d['alpha']:.2g}%, noise sd(log) {100 * d['sd_log']:.2f}%"
           + (" within a pair" if d.get("paired") else "") + ", "
           f"MAD-based {100 * d['robust_sd_log']:.2f}%); a t test would detect the last column",
           f"  {'new':>4} {'reference' if d.get('in_session') else 'baseline':>9} {'MDE':>7} {'t MDE':>9} "
           f"{'check time':>11}"]
    for r in d["rows"]:
        default = (gate["repeat"], gate["repeat"] if d.get("in_session") else gate["baseline_runs"])
        mark = "  <- [gate] default" if (r["current"], r["baseline"]) == default else ""
        runs = r["current"] + (r["baseline"] if d.get("in_session") else 0)  # a check also runs the reference
        cost = "-" if per_run is None else f"~{runs * per_run / 60:.1f} min"
        out.append(f"  {r['current']:>4} {r['baseline']:>9} {_p(r['mde_pct']):>7} {_p(r['mde_t_pct']):>9} "
                   f"{cost:>11}{mark}")
    best = d["smallest"]
    if best is None:
        out.append(f"no configuration up to 10 new vs 40 baseline runs reaches MDE <= {d['limit_pct']:g}%")
    else:
        runs = best["current"] + (best["baseline"] if d.get("in_session") else 0)
        cost = "" if per_run is None else (f" (~{runs * per_run / 60:.1f} min per check"
                                           + ("" if d.get("in_session") else
                                              f", ~{best['baseline'] * per_run / 60:.0f} min per baseline") + ")")
        side = "reference" if d.get("in_session") else "baseline"
        out.append(f"smallest configuration with MDE <= {d['limit_pct']:g}%: {best['current']} new runs vs "
                   f"{best['baseline']} {side} runs, MDE {best['mde_pct']:.1f}%{cost}")
    return out


def _aa_lines(doc: dict) -> list[str]:
    aa = doc["aa"]
    if aa is None:
        return [f"note: {doc['aa_note']}"]
    g = aa["gate_false_positive"]
    how = {"disjoint": f"disjoint random splits (seed {aa['seed']}; independent comparisons)",
           "resampled": f"resampled splits (seed {aa['seed']}: a random draw per comparison; only "
                        f"{aa['disjoint_possible']} disjoint split(s) fit, so runs recur and the comparisons are "
                        f"not independent: the bound is indicative)",
           "ordered": "ordered splits (time order: each baseline of consecutive runs against the runs right after "
                      "it; windows overlap, so the bound is indicative)"}[aa["splits"].split(",")[0]]
    if aa["splits"].endswith("paired"):
        how += "; paired: each current run judged with the reference run beside it (paired t)"
    against = (f"in-session reference groups of {doc['baseline_size']} (pools of {doc['runs']} current and "
               f"{doc['reference_runs']} reference runs, alternating)" if doc.get("reference_runs")
               else f"baselines of {doc['baseline_size']}")
    out = [f"A/A: {aa['comparisons']} comparisons of {doc['current_size']} run(s) against {against}, {how}",
           f"gate false-positive rate: {g['count']}/{g['n']} = {100 * g['rate']:.1f}% "
           f"(95% upper bound {100 * g['upper_95']:.1f}%); overall verdicts: "
           + ", ".join(f"{k} {v}" for k, v in aa["gate_overall"].items())]
    if aa["comparisons"] < 20:
        out.append("note: fewer than 20 comparisons; the issue asks for at least 20")
    return out
