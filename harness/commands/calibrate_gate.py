"""`t4rec-bench calibrate --reference REV --mode MODE[,MODE...] [--checks K]`: calibrate the
sequential gate as `check` runs it.

For each mode it runs --runs pairs of the working tree and REV (HEAD: A/A), the modes taking turns
in blocks of two pairs so that both see the same session; then --checks real A/A checks through
harness/pairing/gate.py (the policy's mode, early stopping on). It prints per mode and gated measurement
the sd of a pair's log ratio, the A/A bias, the lag-1 autocorrelation, the worsening the rule flags in
80% of checks at that noise, and the power table of the rule as coded (true worsening of 1-10%: the
share regressed, undecided and ok, and the pairs used); then the family-wise false-positive rate of the
whole gate, looks and measurements together, over --comparisons checks simulated on the recorded pairs,
the pairs a verdict took, the wall time per pair, a planted slowdown (--plant) and whether memory and
metrics read the same in both modes. harness/pairing/aa_runs.py runs the pairs and this module prints; the analysis
(harness/judge/gate_errors.py) reads records only: re-run it on stored pools with
`--records DIR --reference-records DIR/reference`.
"""

from __future__ import annotations

from harness.measure import host
from harness.output.formatters import value


def render(doc: dict) -> list[str]:
    out = [f"sequential gate: {doc['horizon']} pairs (to {doc.get('max_pairs', doc['horizon'])} while an "
           f"undecided measurement could still be decided), a look after each from pair {doc['min_pairs']} "
           f"(policies.toml [gate])"]
    for mode, m in doc["modes"].items():
        per = f", {m['seconds_per_pair']:.1f} s per pair" if m.get("seconds_per_pair") else ""
        out += ["", f"{mode}: {m['pairs']} pairs{per}" + (f"; {host.words(m['host'])}" if m.get("host") else ""),
                f"  {'measurement':28} {'pair sd':>8} {'95% up':>8} {'mean':>7} {'lag-1':>6} {'alpha':>8} "
                f"{'thresh':>7} {'ok at':>7} {'80% at':>7}"]
        for r in m["noise"]:
            lag = "-" if r.get("lag1") is None else f"{r['lag1']:+.2f}"
            out.append(f"  {r['name']:28} {r['sd_pct']:>7.2f}% {r['sd_upper95_pct']:>7.2f}% "
                       f"{r['mean_pct']:>+6.2f}% {lag:>6} {100 * r['alpha']:>7.3g}% {r['threshold_pct']:>6.2f}% "
                       f"{r['margin_pct']:>6.1f}% {value(r['power80_pct'], '%'):>7}")
        out += power_lines(m["noise"])
        out += robustness_lines(m.get("robustness") or [])
        out.append(_sim_line("A/A", m["aa"]))
        if m.get("planted"):
            p = m["planted"]
            out.append(_sim_line(f"planted {p['stage']} +{100 * p['fraction']:.0f}%", p, detected=True))
    if doc.get("checks"):
        c = doc["checks"]
        out += ["", f"real A/A checks: {len(c)}, false positives {sum(bool(r['regressed']) for r in c)}; pairs "
                    + ", ".join(str(r["pairs"]) for r in c) + "; seconds "
                    + ", ".join(f"{r['seconds']:.0f}" for r in c)]
        out += [f"  {r['overall']} after {r['pairs']} pairs: {r['stopped']}" for r in c]
    if doc.get("ledger"):
        out += [""] + ledger_lines(doc["ledger"], doc.get("ledger_path", "the ledger"))
    if len(doc.get("readings") or {}) > 1:
        modes = list(doc["readings"])
        out += ["", "memory and metrics, median per mode (" + " / ".join(modes) + "):"]
        for name in doc["readings"][modes[0]]:
            vals = [doc["readings"][m].get(name) for m in modes]
            out.append(f"  {name:34} " + " / ".join("-" if v is None else f"{v:.6g}" for v in vals))
    return out


def power_lines(rows: list[dict]) -> list[str]:
    """The power table of each measurement (harness/judge/gate_errors.py ``power_table``)."""
    out = []
    for r in rows:
        out += [f"  power of the rule as coded for {r['name']} at pair sd {r['sd_pct']:.2f}% (simulated checks):",
                f"    {'worse by':>9} {'regressed':>10} {'undecided':>10} {'ok':>6} {'pairs median':>13} {'p90':>5}"]
        out += [f"    {p['worsening_pct']:>8g}% {100 * p['regressed']:>9.1f}% {100 * p['undecided']:>9.1f}% "
                f"{100 * p['ok']:>5.1f}% {p['pairs_median']:>13g} {p['pairs_p90']:>5g}" for p in r.get("power") or ()]
    return out


def robustness_lines(rows: list[dict]) -> list[str]:
    """False positives of the rule as coded at 1-4x the measured noise, per noise shape
    (harness/judge/gate_errors.py ``robustness``)."""
    if not rows:
        return []
    out = [f"  false positives of the rule as coded when nothing changed ({rows[0]['trials']} independent "
           f"simulated checks a cell; the family's rate is at most the sum over its measurements):",
           f"    {'noise':>5} " + " ".join(f"{m:>12}" for m in dict.fromkeys(r["model"] for r in rows))]
    for scale in dict.fromkeys(r["scale"] for r in rows):
        cells = [f"{100 * r['family_at_most']:>{max(12, len(r['model'])) - 1}.2f}%" for r in rows
                 if r["scale"] == scale]
        out.append(f"    {scale:>4g}x " + " ".join(cells))
    return out


def ledger_lines(summary: dict, path) -> list[str]:
    """The real checks of the ledger (harness/judge/gate_errors.py ``ledger_summary``)."""
    out = [f"real checks through the gate in {path} (independent trials, accumulated across sessions):"]
    for g in summary["groups"]:
        what = "A/A" if g["plant"] == "none" else \
            f"planted {g['plant']}" + (f" ({g['plant_kind']})" if g.get("plant_kind") else "")
        load = "" if g["load"] == "none" else f", load {g['load']}"
        verdicts = (f"regressed {g['regressed']} (false positives; rate at most "
                    f"{100 * g['false_positive_upper95']:.0f}% at 95%)" if g["plant"] == "none"
                    else f"regressed {g['regressed']} (flagged)")
        change = "" if g["plant"] == "none" or g["change_median_pct"] is None else \
            f"; the primary ({', '.join(g['primaries'])}) {g['change_median_pct']:+.2f}% median"
        sd = "-" if g["sd_median_pct"] is None else f"{g['sd_median_pct']:.2f}%"
        out.append(f"  {what}{load}: {g['checks']} checks on {len(g['days'])} day(s) ({', '.join(g['days'])}), "
                   f"{len(g['cpus'])} CPU model(s), {g['hosts']} host(s): {verdicts}, undecided {g['undecided']}, "
                   f"ok {g['ok']}{change}; "
                   f"seconds median {g['seconds_median']:.0f}, p90 {g['seconds_p90']:.0f}; pairs median "
                   f"{value(g['pairs_median'], None, digits=0)}, p90 {value(g['pairs_p90'], None, digits=0)}; "
                   f"pair sd of the primary median {sd}")
    if summary.get("lag1") is not None:
        out.append(f"  lag-1 autocorrelation of {summary['primary']}'s pair log ratios over the A/A checks: "
                   f"{summary['lag1']:+.2f} over {summary['lag1_pairs']} successive pairs (the test assumes "
                   f"independent pairs, which would read {summary['lag1_null']:+.2f} +/- "
                   f"{summary['lag1_spread']:.2f}, each check's mean removed)")
    if summary.get("ar_upper95") is not None:
        out.append(f"  so their serial correlation is at most AR(1) {summary['ar_upper95']:.2f} (one-sided 95%, "
                   f"simulated ledgers of the same check lengths): the robustness table's host column")
    return out


def _sim_line(label: str, s: dict, detected: bool = False) -> str:
    what = (f"flagged in {s['false_positives']}/{s['checks']}" if detected else
            f"family-wise false positives {s['false_positives']}/{s['checks']} = {100 * s['rate']:.1f}% "
            f"(resampled from one pool: {s.get('blocks', '?')} independent blocks of {s.get('block', '?')} pairs, "
            f"about {s.get('independent', '?')} checks' worth, so no bound)")
    return (f"  {label}: {what} simulated checks (pairs drawn {s['resampling']} from the pool, seed {s['seed']}); "
            f"pairs used median {s['pairs_median']:g}, 90th percentile {s['pairs_p90']}, max {s['pairs_max']}; "
            f"undecided at the most pairs {s['undecided']}")
