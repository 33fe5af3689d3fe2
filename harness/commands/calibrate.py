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
This module parses and prints; harness/pairing/aa_runs.py runs the A/A runs (its CalibrateOptions
checks the options), the analysis is harness/judge/noise.py's (and, with --mode,
harness/judge/gate_errors.py's).
"""

from __future__ import annotations

import functools

from harness.output.formatters import value
from harness.pairing.aa_runs import SPLITS, CalibrateOptions


def add_parser(subparsers):
    from harness.commands import _common

    p = subparsers.add_parser(
        "calibrate", help="A/A runs: noise, false-positive rate and detectable effect of the policy",
        description="Run PROFILE K times unchanged (or read A/A run records) and measure how the "
                    "comparison policy behaves on them.")
    _common.add_workload_options(p, default_profile="ci")
    option = functools.partial(_common.add_option, p, CalibrateOptions)
    option("--runs", type=_common.positive_int, metavar="K")
    option("--records", nargs="+", metavar="PATH")
    option("--reference", metavar="REV")
    option("--reference-records", nargs="+", metavar="PATH")
    option("--baseline-size", type=_common.positive_int, metavar="N")
    option("--current-size", type=_common.positive_int, metavar="M")
    option("--comparisons", type=_common.positive_int, metavar="C")
    option("--split-seed", type=int, metavar="S")
    option("--splits", choices=SPLITS)
    option("--mode", metavar="MODE[,MODE...]")
    option("--checks", type=int, metavar="K")
    option("--plant", metavar="STAGE=FRACTION")
    option("--policies", metavar="PATH")
    option("--history", default=_common.DEFAULT_HISTORY, metavar="DIR")
    option("--ledger", metavar="JSONL")
    option("--out", metavar="PATH")
    option("--quiet", action="store_true")
    p.set_defaults(func=main)
    return p


def options(args) -> CalibrateOptions:
    """The command line as CalibrateOptions (which checks it)."""
    from harness.commands import _common

    return _common.options_from(args, CalibrateOptions, records=tuple(args.records or ()),
                                reference_records=tuple(args.reference_records or ()), history=str(args.history))


# --- command --------------------------------------------------------------------------------

def main(args) -> int:
    from pathlib import Path

    from harness.commands import _common
    from harness.commands import calibrate_gate as cg
    from harness.documents import atomic, calibration
    from harness.judge import policy
    from harness.pairing import aa_runs

    o = options(args)
    policies = policy.load(o.policies)
    config = None if o.records else _common.config_from_args(args)  # nothing runs on recorded pools
    if o.modes:
        doc = aa_runs.gate_calibration(config, o, policies)
        text = "\n".join(cg.render(doc["sequential"])) + "\n"
    else:
        doc = aa_runs.noise_calibration(config, o, policies)
        text = render(doc)
    out = Path(o.out) if o.out else calibration.default_path(doc)
    atomic.write_json(out, doc)
    print(text, end="")
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


def _cv(x: float | None) -> str:
    """A coefficient of variation (a fraction) as a percent cell."""
    return value(None if x is None else 100 * x, "%")


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
        line = (f"{m['name']:30} {m['policy'][:16]:16} {alpha:>8} {m['median']:>11.5g} {m['mad']:>9.3g} "
                f"{_cv(m['cv']):>6} {_cv(m['robust_cv']):>6} {_cv(m['cv_normalised']):>7} "
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
