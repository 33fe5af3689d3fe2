"""The sequential gate's error rates and power, simulated with the rule as coded (harness/judge/sequential.py).

    .venv/bin/python benchmarks/sequential_fp.py --sd 1.0 --trials 20000

Every figure comes from ``sequential.simulate``: the same t_critical, decide_arrays, min_pairs, repeat,
max_pairs, design_pairs and stop rule (past repeat, on only while the cap could decide) as a check,
with each gated time's level, threshold and equivalence bound from policies.toml and the committed ci
baseline's family. Each trial is an independent simulated check. It prints:

1. Coverage of the confidence sequence itself (threshold 0, no "ok" stop, looks to max_pairs): the
   share of A/A checks whose bound ever excludes 0, against the nominal one-sided alpha, under Gaussian
   noise (any scale: the test is scale-invariant), t3 tails, one 3-sd outlier pair and AR(1) drift: of
   the pair's log ratio itself, and of a side's position (start order, first CPU slot), which the
   design swaps every pair, so that drift enters with alternating sign (sequential.simulate).
2. The family-wise false-positive rate of the gated times, at 1x, 2x, 4x and 8x the given pair sd
   (--sd, percent: the primary's; a secondary's noise is scaled by --secondary-ratio), per noise model.
   A measurement counts as a false positive if it regresses at ANY look up to max_pairs (conservative:
   a check stops earlier), and the members are simulated independently, so the family rate is the
   union's 1 - prod(1 - p) (an upper bound of a positively dependent family's).
3. The power table of the primary (or of --measurement) at --sd: P(regressed), P(undecided), P(ok),
   pairs median and 90th percentile, for a true worsening of 1-10%, and the worsening flagged in 80% of
   checks (--threshold, --ok-bound: with another threshold_pct or max_mde_pct, to compare rules).
4. With --bias: A/A checks of the primary whose pairs carry a launch bias.
5. With --from-calibration DOC (a document `calibrate --mode` wrote with --out): the family's false
   positives of the rule as coded WITH its stop rule (harness/judge/gate_errors.py ``robustness``, the
   table calibrate prints) at each gated time's pair sd in DOC (thresholds as in 1-3), with the --ar
   models besides calibrate's own: a new noise model for a calibration already run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

MODELS = {"gaussian": {}, "t3": {"tail_df": 3.0}, "outlier 3sd": {"outlier": 3.0}, "AR(1) 0.3": {"ar": 0.3},
          "AR(1) 0.6": {"ar": 0.6}, "AR(1) 0.6 of the position": {"ar": 0.6, "alternating": True}}


def _family(pols) -> dict:
    """{name: (policy, one-sided alpha)} of the gated times and throughputs of the committed ci baseline."""
    from harness.documents import baseline
    from harness.measure import environment as env

    rec = baseline.load(baseline.default_path("ci", env.machine_class()))["record"]
    members = [m for m in rec["measurements"] if pols.for_measurement(m["name"], m["kind"]).in_family]
    alphas = pols.gate.alphas([m["name"] for m in members])
    return {m["name"]: (pols.for_measurement(m["name"], m["kind"]), alphas[m["name"]], m["value"])
            for m in members if m["kind"] in ("time", "throughput")}


def main(argv=None) -> int:
    from harness.judge import policy
    from harness.judge import sequential as seq
    from harness.judge.significance import sequential_rule, threshold_pct

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sd", type=float, default=1.0, help="the primary's pair sd, percent (default 1.0)")
    p.add_argument("--secondary-ratio", type=float, default=3.0,
                   help="a secondary time's pair sd as a multiple of the primary's (default 3)")
    p.add_argument("--trials", type=int, default=20000, help="simulated checks per cell (default 20000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bias", type=float, metavar="PCT", action="append", default=[],
                   help="also simulate A/A checks whose pairs carry this launch bias of the primary (percent; "
                        "repeatable): section 4")
    p.add_argument("--threshold", type=float, metavar="PCT",
                   help="section 3's threshold_pct instead of policies.toml's (to compare rules)")
    p.add_argument("--ok-bound", type=float, metavar="PCT",
                   help="section 3's max_mde_pct (ok once this worsening is ruled out) instead of policies.toml's")
    p.add_argument("--ar", type=float, metavar="RHO", action="append", default=[],
                   help="also simulate AR(1) noise of this correlation in sections 1 and 2 (repeatable; e.g. the "
                        "bound calibrate prints from the ledger's real checks)")
    p.add_argument("--from-calibration", metavar="DOC",
                   help="section 5: calibrate's robustness table at DOC's measured noise, with the --ar models")
    p.add_argument("--measurement", metavar="NAME",
                   help="section 3 for this gated time at --sd instead of the primary (e.g. total.wall_s)")
    args = p.parse_args(argv)
    models = {**MODELS, **{f"AR(1) {rho:g}": {"ar": rho} for rho in args.ar}}
    pols = policy.load()
    g = pols.gate
    settings = {"repeat": g.repeat, "min_pairs": g.min_pairs, "max_pairs": max(g.max_pairs, g.repeat),
                "design_pairs": g.design_pairs}
    family = _family(pols)
    rules = {n: sequential_rule(pol, threshold_pct(pol, value), settings, alpha)
             for n, (pol, alpha, value) in family.items()}
    if args.measurement and args.measurement not in rules:
        print(f"error: {args.measurement} is not a gated time of the ci baseline: {', '.join(rules)}",
              file=sys.stderr)
        return 2
    shown = args.measurement or g.primary
    judged = rules[shown]
    if args.threshold is not None:
        judged = dataclasses.replace(judged, threshold=seq.log_of_pct(args.threshold))
    if args.ok_bound is not None:
        judged = dataclasses.replace(judged, margin=seq.log_of_pct(args.ok_bound))
    judged = dataclasses.replace(judged, margin=max(judged.margin, judged.threshold))
    primary = judged if shown == g.primary else rules[g.primary]
    print(f"[gate]: looks from pair {g.min_pairs}, repeat {g.repeat}, max_pairs {settings['max_pairs']}, "
          f"design_pairs {g.design_pairs}; {args.trials} independent simulated checks per cell, seed {args.seed}")

    print("\n1. coverage: share of A/A checks whose bound ever excludes 0 (looks to max_pairs)")
    for name, level in ((g.primary, primary.alpha), ("a secondary", next(
            r.alpha for n, r in rules.items() if n != g.primary))):
        bare = seq.Rule(level, 0.0, -math.inf, g.min_pairs, settings["max_pairs"], settings["max_pairs"],
                        g.design_pairs)
        cells = [f"{label} {100 * seq.simulate(bare, 0.01, 0.0, args.trials, args.seed, **kw)['regressed']:.3f}%"
                 for label, kw in models.items()]
        print(f"  {name} (nominal {100 * level:.3g}%): " + ", ".join(cells))

    print(f"\n2. family-wise false positives of the {len(rules)} gated times (any look to max_pairs)")
    for scale in (1, 2, 4, 8):
        cells = []
        for label, kw in models.items():
            survive = 1.0
            for n, r in rules.items():
                sd = args.sd / 100 * scale * (1 if n == g.primary else args.secondary_ratio)
                ever = seq.Rule(r.alpha, r.threshold, -math.inf, r.min_pairs, r.max_pairs, r.max_pairs, r.design)
                survive *= 1 - seq.simulate(ever, sd, 0.0, args.trials, args.seed, **kw)["regressed"]
            cells.append(f"{label} {100 * (1 - survive):.3f}%")
        print(f"  {scale}x (primary sd {args.sd * scale:g}%): " + ", ".join(cells))

    print(f"\n3. power of {shown} at pair sd {args.sd:g}% (threshold {seq.log_pct(judged.threshold):.2f}%, "
          f"ok once {seq.log_pct(judged.margin):.1f}% is ruled out, one-sided level {100 * judged.alpha:.3g}%)")
    print(f"  {'worse by':>9} {'regressed':>10} {'undecided':>10} {'ok':>7} {'pairs median':>13} {'p90':>5}")
    for w in (0, 1, 2, 3, 4, 5, 7, 10):
        r = seq.simulate(judged, args.sd / 100, seq.log_of_pct(w), args.trials, args.seed)
        print(f"  {w:>8g}% {100 * r['regressed']:>9.2f}% {100 * r['undecided']:>9.2f}% "
              f"{100 * (r['ok'] + r['improved']):>6.2f}% {r['pairs_median']:>13g} {r['pairs_p90']:>5g}")
    print(f"  flagged in 80% of checks from a worsening of {seq.log_pct(seq.power_point(judged, args.sd / 100)):.2f}%")
    if args.bias:
        print(f"\n4. A/A checks of {g.primary} whose pairs carry a launch bias (the rule as coded, Gaussian)")
        for scale in (1, 2, 4):
            for b in args.bias:
                r = seq.simulate(primary, args.sd / 100 * scale, seq.log_of_pct(b), args.trials, args.seed)
                print(f"  sd {args.sd * scale:g}%, bias {b:+g}%: regressed {100 * r['regressed']:.3f}%, undecided "
                      f"{100 * r['undecided']:.2f}%, pairs median {r['pairs_median']:g}")
    if args.from_calibration:
        return _from_calibration(args, rules, seq)
    return 0


def _from_calibration(args, rules: dict, seq) -> int:
    """Section 5: ``gate_errors.robustness`` at the pair sd of each gated time in a calibration document."""
    import json

    from harness.judge import gate_errors

    try:
        modes = json.loads(open(args.from_calibration).read())["sequential"]["modes"]
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {args.from_calibration} is not a calibration document of `calibrate --mode`: {e}",
              file=sys.stderr)
        return 2
    for mode, m in modes.items():
        measured = {r["name"]: seq.log_of_pct(r["sd_pct"]) for r in m["noise"] if r["name"] in rules}
        print(f"\n5. {mode}, {m['pairs']} pairs of {args.from_calibration}: family-wise false positives of the rule "
              f"as coded (its stop rule), {args.trials} independent simulated checks a cell")
        for i, rho in enumerate(args.ar or [None]):  # calibrate's own models once, then each --ar model
            rows = gate_errors.robustness({n: (rules[n], sd) for n, sd in measured.items()}, args.trials, args.seed,
                                          ar_host=rho)
            for r in rows:
                if i == 0 or r["model"].endswith("(host)"):
                    print(f"  {r['scale']}x {r['model']:>18}: {100 * r['family_at_most']:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
