"""The pair noise of each effect a three-arm check reads, from the records it left in its history folder.

    .venv/bin/t4rec-bench check --profile ci --history H ...   # in an environment that differs from the baseline's
    .venv/bin/python benchmarks/arm_pairs.py H

A check whose environment differs from the stored baseline's runs the reference (baseline code, baseline
environment), the cross arm (baseline code, this environment) and, where the three do not fit the CPUs at
once, a partner (the reference again, beside the cross arm: harness/pairing/together.py). It appends the
current code's merged record to H and the arms' to H/reference. This prints, per gated time, the sd of the
rounds' log ratios for: the verdict (current / reference), the environment's effect (cross / partner),
the code's effect read through the partner (harness/judge/attribution.py ``beside``), and the code's effect
read as current / cross across the two pairs. A check without a partner (its three sides ran at once or
alternating; or before partners were kept) gets the first and the last. Exit 2 when H does not hold exactly
one three-arm check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path


def _samples(path: Path) -> tuple[dict, dict]:
    from harness.documents import record

    rec = record.load(path)
    return rec, {name: m["samples"] for name, m in record.by_name(rec).items()}


def gated(history: Path) -> list[str]:
    """The gated times and throughputs of the check's current record: the family of the committed
    policies (harness/judge/rules.py ``family``), in the record's order."""
    from harness.documents import record
    from harness.judge import policy, rules

    ms = [m for m in record.load(sorted(history.glob("*.json"))[0])["measurements"]
          if m["kind"] in ("time", "throughput")]
    return rules.family(policy.load(), ms)


def arms(history: Path) -> dict[str, dict]:
    """{"current", "reference", "cross", "partner"}: {name: samples} of the check's records in ``history``
    (the partner's None when the check kept none)."""
    from harness.pairing.gate import PARTNER_NOTE

    current = sorted(history.glob("*.json"))
    found = [_samples(p) for p in sorted((history / "reference").glob("*.json"))]
    partner = [s for r, s in found if PARTNER_NOTE in (r.get("notes") or [])]
    rest = [(r, s) for r, s in found if PARTNER_NOTE not in (r.get("notes") or [])]
    if len(current) != 1 or len(partner) > 1 or len(rest) != 2:
        raise ValueError(f"{history} does not hold one three-arm check "
                         f"({len(current)} current, {len(rest)} arms, {len(partner)} partner)")
    here = _samples(current[0])[0]["environment"].get("distributions")
    cross = [s for r, s in rest if r["environment"].get("distributions") == here]
    if len(cross) != 1:
        raise ValueError(f"{history}: no arm ran in the current code's environment")
    reference = next(s for r, s in rest if s is not cross[0])
    return {"current": _samples(current[0])[1], "reference": reference, "cross": cross[0],
            "partner": partner[0] if partner else None}


def sds(a: dict[str, dict], name: str) -> dict[str, float]:
    """The sd, in percent, of each effect's log ratios over the rounds, read as the judge reads them
    (sequential.log_ratios, attribution.beside); None where there is no partner."""
    from harness.judge import attribution
    from harness.judge.sequential import log_ratios

    c, r, x = (a[k][name] for k in ("current", "reference", "cross"))
    p = a["partner"][name] if a["partner"] else None

    def sd(before, after) -> float:
        return 100 * statistics.stdev(log_ratios(before, after))
    out = {"verdict": sd(r, c), "environment": None, "code, two pairs": None, "code, across pairs": sd(x, c)}
    if p is not None:
        code_before, env_before = attribution.beside(x, r, p)
        out["environment"] = sd(env_before, x)
        out["code, two pairs"] = sd(code_before, c)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("history", type=Path, help="the check's --history folder")
    args = p.parse_args(argv)
    try:
        a = arms(args.history)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = gated(args.history)
    print(f"{'measurement':28s} " + "  ".join(f"{k:>18s}" for k in sds(a, names[0])))
    for name in names:
        print(f"{name:28s} " + "  ".join(f"{v:17.2f}%" if v is not None else f"{'-':>18s}"
                                         for v in sds(a, name).values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
