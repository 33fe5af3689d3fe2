"""`t4rec-bench calibrate --reference REV --mode duet|alternating|both [--checks K]`: calibrate the
sequential gate as `check` runs it.

For each mode it runs --runs pairs of the working tree and REV (HEAD: A/A), the modes taking turns
in blocks of two pairs so that both see the same session; then --checks real A/A checks through
harness/run/gate.py (the policy's mode, early stopping on). It prints per mode and gated measurement
the sd of a pair's log ratio, its floor in policies.toml and the detectable worsening at the most
pairs; then the family-wise false-positive rate of the whole gate, looks and measurements
together, over --comparisons checks simulated on the recorded pairs, the pairs a verdict took, the
wall time per pair, a planted slowdown (--plant) and whether memory and metrics read the same in
both modes. This module runs the pairs and prints; the analysis (harness/judge/gate_calibration.py)
reads records only: re-run it on stored pools with `--records DIR --reference-records DIR/reference`.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.output.formatters import value

BLOCK = 2  # pairs per mode before the other mode takes its turn


def run_pools(args, config, modes: list[str], pairs: int, history: Path, quiet: bool) -> dict:
    """{mode: (current records, reference records, seconds per pair)}: ``pairs`` pairs per mode."""
    import sys
    import tempfile

    from harness.documents import record
    from harness.errors import HarnessError
    from harness.output.progress import Progress
    from harness.run import reference

    out = {m: ([], [], []) for m in modes}
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        ref = reference.checkout(args.reference, Path(tmp))
        arms = [reference.Arm("reference", ref, sys.executable)]
        done = 0
        while done < pairs:
            block = min(BLOCK, pairs - done)
            for mode in modes:
                used, why = reference.pairing(config, 2, mode)
                if why:
                    raise HarnessError(f"calibrate --mode {mode}: {why}")
                t0 = time.perf_counter()
                current, by_arm, dropped = reference.interleaved(config, block, arms, Progress(enabled=not quiet),
                                                                 mode=used)
                if dropped or any(r["status"] != "ok" for r in current):
                    raise HarnessError(dropped or "an A/A run failed")
                cur, refs, secs = out[mode]
                cur += current
                refs += by_arm["reference"]
                secs.append((time.perf_counter() - t0) / block)
                for rec in current:
                    record.append_history(rec, history / mode)
                for rec in by_arm["reference"]:
                    record.append_history(rec, history / mode / "reference")
            done += block
    return out


def real_checks(args, config, policies, k: int, baseline_path, quiet: bool) -> list[dict]:
    """``k`` A/A checks through the gate (early stopping on, the policy's mode): verdict, pairs, time."""
    from harness.output.progress import Progress
    from harness.run import gate

    out = []
    for i in range(k):
        if not quiet:
            print(f"real A/A check {i + 1}/{k}", flush=True)
        t0 = time.perf_counter()
        o = gate.run(config, policies.gate.repeat, baseline_path, args.policies, args.reference,
                     progress=Progress(enabled=False), reference_env="current")
        prov = o.verdict.reference_provenance
        out.append({"overall": o.verdict.overall, "exit_code": o.verdict.exit_code, "pairs": prov.get("runs"),
                    "mode": prov.get("mode"), "stopped": prov.get("stopped"), "seconds": time.perf_counter() - t0,
                    "regressed": [m.name for m in o.verdict.measurements if m.verdict == "regressed"],
                    "record": o.record, "reference_record": o.reference_record})
        if not quiet:
            r = out[-1]
            print(f"  {r['overall']} after {r['pairs']} pairs ({r['stopped']}), {r['seconds']:.0f} s", flush=True)
    return out


def render(doc: dict) -> list[str]:
    out = [f"sequential gate: at most {doc['horizon']} pairs, a look after each from pair {doc['min_pairs']} "
           f"(policies.toml [gate])"]
    for mode, m in doc["modes"].items():
        per = f", {m['seconds_per_pair']:.1f} s per pair" if m.get("seconds_per_pair") else ""
        out += ["", f"{mode}: {m['pairs']} pairs{per}",
                f"  {'measurement':28} {'pair sd':>8} {'95% up':>8} {'floor':>7} {'mean':>7} {'alpha':>8} "
                f"{'MDE@' + str(doc['horizon']):>8}"]
        for r in m["noise"]:
            out.append(f"  {r['name']:28} {r['sd_pct']:>7.2f}% {r['sd_upper95_pct']:>7.2f}% "
                       f"{value(r['floor_pct'], '%'):>7} {r['mean_pct']:>+6.2f}% {100 * r['alpha']:>7.3g}% {r['mde_pct']:>7.2f}%")
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
    if len(doc.get("readings") or {}) > 1:
        modes = list(doc["readings"])
        out += ["", "memory and metrics, median per mode (" + " / ".join(modes) + "):"]
        for name in doc["readings"][modes[0]]:
            vals = [doc["readings"][m].get(name) for m in modes]
            out.append(f"  {name:34} " + " / ".join("-" if v is None else f"{v:.6g}" for v in vals))
    return out


def _sim_line(label: str, s: dict, detected: bool = False) -> str:
    what = (f"flagged in {s['false_positives']}/{s['checks']}" if detected else
            f"family-wise false positives {s['false_positives']}/{s['checks']} = {100 * s['rate']:.1f}% "
            f"(95% upper bound {100 * s['upper_95']:.1f}%)")
    return (f"  {label}: {what} simulated checks (pairs drawn {s['resampling']} from the pool, seed {s['seed']}); "
            f"pairs used median {s['pairs_median']:g}, 90th percentile {s['pairs_p90']}, max {s['pairs_max']}; "
            f"undecided at the most pairs {s['undecided']}")
