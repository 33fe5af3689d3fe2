"""The sequential gate's error rates on simulated pairs of known noise (harness/judge/sequential.py).

    .venv/bin/python benchmarks/sequential_fp.py --sims 3000

For a measurement tested at one-sided level ALPHA, with the policy's threshold, equivalence bound
and noise floor, each simulated check draws Gaussian log ratios of sd SIGMA (mean 0: an A/A
check, or a planted change), looks after every pair from [gate] min_pairs on exactly as the gate
decides one measurement (harness.judge.sequential.sequence and decide), and stops when decided or at
[gate] repeat. It prints, per true sigma, the false-positive rate (regressed on an unchanged
pipeline) against ALPHA, and the mean pairs used; then the share of planted changes flagged.
This is where the claim "a host noisier than the floor is caught by its own data" comes from: the
primary (total.wall_s) is simulated with the floor of policies.toml and sigmas up to 8%.
"""

from __future__ import annotations

import argparse
import random
import sys
from statistics import mean


def one(rng, sigma: float, shift: float, alpha: float, floor: float, thr: float, margin: float, gate) -> tuple[str, int]:
    from harness.judge import sequential as seq

    d = []
    for n in range(1, gate.repeat + 1):
        d.append(rng.gauss(shift, sigma))
        if n < gate.min_pairs:
            continue
        s = seq.sequence(d, alpha, floor, gate.repeat, gate.sd_confidence)
        state = seq.decide(s, False, thr, margin)
        if state != seq.UNDECIDED:
            return state, n
    return seq.UNDECIDED, gate.repeat


def _alpha(pols, name: str) -> float:
    """The one-sided level the gate tests ``name`` at: [gate]'s split over the gated measurements of
    the committed ci baseline of this machine class (the family a ci check judges)."""
    from harness.documents import baseline
    from harness.measure import environment as env

    rec = baseline.load(baseline.default_path("ci", env.machine_class()))["record"]
    family = [m["name"] for m in rec["measurements"] if pols.for_measurement(m["name"], m["kind"]).in_family]
    return pols.gate.alphas(family)[name]


def main(argv=None) -> int:
    from harness.judge import policy
    from harness.judge import sequential as seq

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measurement", default="total.wall_s")
    p.add_argument("--kind", default="time")
    p.add_argument("--sims", type=int, default=3000)
    p.add_argument("--sigmas", default="1.5,3,5,8", help="true pair noise, percent")
    p.add_argument("--plant", type=float, default=5.0, help="a planted change, percent (also 3)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    pols = policy.load()
    gate, pol = pols.gate, pols.for_measurement(args.measurement, args.kind)
    alpha = _alpha(pols, args.measurement)
    floor, thr = seq.log_of_pct(pol.pair_sd_pct or 0.0), seq.log_of_pct(pol.threshold_pct)
    margin = seq.log_of_pct(max(pol.max_mde_pct or pol.threshold_pct, pol.threshold_pct))
    rng = random.Random(args.seed)
    print(f"{args.measurement}: one-sided alpha {100 * alpha:.3g}%, floor {pol.pair_sd_pct}%, threshold "
          f"{pol.threshold_pct}%, equivalence bound {seq.pct(margin):.1f}%, at most {gate.repeat} pairs, "
          f"sd_confidence {gate.sd_confidence}; {args.sims} simulated checks per row")
    for sigma in (float(x) / 100 for x in args.sigmas.split(",")):
        for label, shift in (("A/A", 0.0), (f"+{args.plant:g}%", seq.log_of_pct(args.plant)),
                             (f"+{args.plant * 2:g}%", seq.log_of_pct(2 * args.plant))):
            runs = [one(rng, sigma, shift, alpha, floor, thr, margin, gate) for _ in range(args.sims)]
            flagged = sum(state == seq.REGRESSED for state, _ in runs) / args.sims
            undecided = sum(state == seq.UNDECIDED for state, _ in runs) / args.sims
            what = "false positives" if shift == 0 else "flagged"
            print(f"  sigma {100 * sigma:4.1f}%  {label:6} {what} {100 * flagged:6.2f}%  undecided {100 * undecided:5.1f}%  "
                  f"mean pairs {mean(n for _, n in runs):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
