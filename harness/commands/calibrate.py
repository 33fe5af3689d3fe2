"""`t4rec-bench calibrate`: A/A runs, measured noise and the policy's error rates.

Runs the profile K times unchanged (or reads existing records with --records) and reports:
- per measurement: median, MAD, coefficient of variation (raw, MAD-based and
  speed-normalised, to show whether normalisation helps), its policy and one-sided alpha,
  and the minimum detectable effect (MDE, at the policy's power) at the requested sample sizes;
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
Writes reports/calibration-<profile>-<machine>-<time>.json (harness/documents/calibration.py).
This module runs the A/A runs and prints; the analysis is harness/judge/noise.py's (and,
with --mode, harness/judge/gate_errors.py's).
"""

from __future__ import annotations

from harness.judge.policy import MODES
from harness.output.formatters import value


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
    p.add_argument("--mode", type=_modes, metavar="MODE[,MODE...]",
                   help="calibrate the sequential gate (with --reference, or --records and --reference-records): "
                        "pairs in each of these modes (" + ", ".join(MODES) + "; several take turns in blocks of "
                        "two pairs; both = duet,alternating), then the family-wise A/A rate with early stopping "
                        "over --comparisons simulated checks (harness/commands/calibrate_gate.py)")
    p.add_argument("--checks", type=int, default=0, metavar="K",
                   help="with --mode: also run K real A/A checks through the gate (default 0)")
    p.add_argument("--plant", default="train=0.25", metavar="STAGE=FRACTION",
                   help="with --mode: simulate faults.slowdown of STAGE by FRACTION on the pairs (default %(default)s)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--history", default=_common.DEFAULT_HISTORY, metavar="DIR",
                   help="history folder for the new run records (default: %(default)s)")
    p.add_argument("--ledger", metavar="JSONL",
                   help="with --mode: the real-checks ledger that --checks appends to and whose checks the "
                        "calibration reports (default: baselines/<machine class>/real-checks.jsonl)")
    p.add_argument("--out", metavar="PATH", help="calibration JSON (default: reports/calibration-...json)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=main)
    return p


def _modes(text: str) -> list[str]:
    """``--mode``'s value: a comma-separated list of pairing modes (``both``: duet,alternating)."""
    import argparse

    modes = ["duet", "alternating"] if text == "both" else [m.strip() for m in text.split(",") if m.strip()]
    wrong = [m for m in modes if m not in MODES]
    if wrong or not modes or len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct modes among {', '.join(MODES)} (or both)")
    return modes


# --- command --------------------------------------------------------------------------------

def main(args) -> int:
    import datetime as dt
    from pathlib import Path

    from harness.commands import _common
    from harness.documents import atomic, calibration
    from harness.errors import HarnessError
    from harness.judge import policy
    from harness.judge.noise import analyse
    from harness.pairing import aa_runs as runs

    policies = policy.load(args.policies)
    if args.mode:
        return _main_sequential(args, policies)
    n_base = args.baseline_size or policies.gate.baseline_runs
    n_cur = args.current_size or policies.gate.repeat
    refs = None
    if args.reference_records and not args.records:
        raise HarnessError("--reference-records needs --records (the current pool)")
    if args.records:
        records = runs.plain_runs(args.records)
        refs = runs.plain_runs(args.reference_records) if args.reference_records else None
    elif args.reference:
        n_base = args.baseline_size or policies.gate.repeat
        records, refs = runs.aa_runs_with_reference(_common.config_from_args(args),
                                                    args.runs or 3 * policies.gate.repeat, args.reference,
                                                    args.history, args.quiet)
    else:
        records = runs.aa_runs(_common.config_from_args(args), args.runs or n_base + n_cur, args.history, args.quiet)
    if len(records) < 3:
        raise HarnessError(f"{len(records)} usable A/A run(s): need at least 3 to measure noise")
    if refs is not None and args.baseline_size is None:
        n_base = policies.gate.repeat  # the in-session design compares repeat vs repeat runs
    result = analyse(records, n_base, n_cur, policies, args.comparisons, args.split_seed, args.splits == "ordered",
                     reference=refs)
    machine = records[0]["environment"]["machine_class"]
    now = dt.datetime.now(dt.timezone.utc)
    doc = calibration.build(records[0]["profile"], machine, now.isoformat(timespec="seconds"), policies.source,
                            {"run_ids": [r["run_id"] for r in records], **result})
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
    from harness.documents import atomic, baseline, calibration, real_checks
    from harness.errors import HarnessError
    from harness.judge import gate_errors as seqcal
    from harness.judge import judging as judge
    from harness.measure import host
    from harness.pairing import aa_runs as runs
    from harness.run import runner

    stage, _, fraction = args.plant.partition("=")
    try:
        plant = (stage, float(fraction)) if stage else None
    except ValueError:
        raise HarnessError(f"--plant {args.plant}: expected STAGE=FRACTION, e.g. train=0.25") from None
    config = _common.config_from_args(args)
    checks, seconds, hosts = [], {}, {}
    ledger_of = lambda machine: Path(args.ledger) if args.ledger else real_checks.default_path(machine)  # noqa: E731
    if args.records:
        if not args.reference_records:
            raise HarnessError("--mode with --records needs --reference-records (the reference pool)")
        pools = {"recorded": (seqcal.pooled(runs.plain_runs(args.records)),
                              seqcal.pooled(runs.plain_runs(args.reference_records)))}
    elif args.reference:
        raw = runs.pair_pools(config, args.reference, args.mode, args.runs or policies.gate.repeat,
                              Path(args.history), args.quiet, policies.gate.crossover_period_s)
        path = baseline.default_path(config.profile, runner.machine_class(config))
        checks = runs.real_checks(config, policies, args.checks, path, args.policies, args.reference, args.quiet,
                                  ledger=ledger_of(runner.machine_class(config)))
        for c in checks:
            cur, refs, _, _ = raw.setdefault(c["mode"], ([], [], [], []))
            cur.append(c["record"])
            refs.append(c["reference_record"])
        pools = {m: (seqcal.pooled(cur), seqcal.pooled(refs)) for m, (cur, refs, _, _) in raw.items()}
        seconds = {m: sum(s) / len(s) for m, (_, _, s, _) in raw.items() if s}
        hosts = {m: host.summary(h) for m, (_, _, _, h) in raw.items() if h}
    else:
        raise HarnessError("--mode needs --reference REV (HEAD for A/A) or --records with --reference-records")
    profile = next(iter(pools.values()))[0]["profile"]
    machine = next(iter(pools.values()))[0]["environment"]["machine_class"]
    path = baseline.default_path(profile, machine)
    doc = seqcal.analyse(pools, policies, judge.load_baseline(path), path, args.policies, args.comparisons,
                         args.split_seed, plant, seconds)
    for mode, summary in hosts.items():
        doc["modes"][mode]["host"] = summary
    doc["checks"] = [{k: v for k, v in c.items() if k not in ("record", "reference_record", "pairs_by_name")}
                     for c in checks]
    ledger = ledger_of(machine)
    rows = [r for r in real_checks.load(ledger) if r.get("profile") == profile]
    if rows:
        doc["ledger"] = seqcal.ledger_summary(rows, policies.gate.primary)
        doc["ledger_path"] = str(ledger)
    now = dt.datetime.now(dt.timezone.utc)
    doc = calibration.build(profile, machine, now.isoformat(timespec="seconds"), policies.source, {"sequential": doc})
    out = Path(args.out or f"reports/calibration-sequential-{profile}-{machine}-{now:%Y%m%dT%H%M%S}.json")
    atomic.write_json(out, doc)
    print("\n".join(cg.render(doc["sequential"])))
    print(f"wrote {out}")
    return 0


# --- text -----------------------------------------------------------------------------------

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
    head += f" {'FP reg':>7} {'FP imp':>7} {'undecided':>9}" if aa else ""
    out = [f"noise per measurement over all {doc['runs']} runs; MDE at {doc['current_size']} new vs "
           f"{doc['baseline_size']} baseline runs, at each policy's power"
           + ("; A/A flags per comparison" if aa else ""), head]
    for m in doc["measurements"]:
        alpha = "-" if m["alpha"] is None else f"{100 * m['alpha']:.2g}%"
        cv = lambda x: value(None if x is None else 100 * x, "%")  # noqa: E731
        line = (f"{m['name']:30} {m['policy'][:16]:16} {alpha:>8} {m['median']:>11.5g} {m['mad']:>9.3g} "
                f"{cv(m['cv']):>6} {cv(m['robust_cv']):>6} {cv(m['cv_normalised']):>7} "
                f"{value(m['threshold_pct'], '%'):>7} {value(m['min_detectable_pct'], '%'):>9}")
        if aa:
            fr, fi = m["false_regressed"], m["false_improved"]
            undecided = value(100 * m["undecided_share"], "%", digits=0)
            line += f" {fr['count']:>3}/{fr['n']:<3} {fi['count']:>3}/{fi['n']:<3} {undecided:>9}"
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
        test = "paired t on the pairs' log ratios"
    out = [f"design: minimum detectable slowdown of {d['measurement']} by the policy's {test} "
           f"({100 * d['power']:.0f}% power, "
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
        out.append(f"  {r['current']:>4} {r['baseline']:>9} {value(r['mde_pct'], '%'):>7} "
                   f"{value(r['mde_t_pct'], '%'):>9} {cost:>11}{mark}")
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
        out.append("note: fewer than 20 comparisons: too few for the false-positive rate to mean much")
    return out
