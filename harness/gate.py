"""One check: run the current code (with the in-session reference, when there is one) and judge it.

Shared by `t4rec-bench check` and the pytest gate (tests/test_gate.py), so both give the same
verdict for the same tree. Order of work: read the policy and the stored baseline first (a
corrupt baseline is exit 2 before any run), extract the reference commit, run, judge.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import baseline as baselinemod
from . import policy as policymod
from . import record as recordmod
from . import reference as referencemod
from .errors import HarnessError

AUTO, NONE = "auto", "none"


@dataclass(frozen=True)
class Outcome:
    record: dict  # the current code's merged run record
    verdict: object  # harness.compare.Verdict
    reference_record: dict | None  # the reference's merged run record, if one ran to the end


def load_baseline(path: Path) -> dict | None:
    """The stored baseline at ``path``; None if there is none (exit-3 case); HarnessError if unreadable."""
    return baselinemod.load(path) if Path(path).exists() else None


def reference_rev(choice: str, stored: dict | None) -> tuple[str | None, str | None]:
    """(revision to re-run or None, why there is none): ``auto`` means the stored baseline's commit."""
    if choice == NONE:
        return None, "no in-session reference (--reference none)"
    if choice != AUTO:
        return choice, None
    commit = ((stored or {}).get("provenance") or {}).get("commit")
    if not commit:
        return None, "no in-session reference: the stored baseline names no commit"
    return commit, None


def run(config, repeat: int, baseline_path: Path, policies_path=None, reference: str = AUTO,
        progress=None, command: str | None = None) -> Outcome:
    """Run ``config`` ``repeat`` times (interleaved with the reference) and judge the result."""
    from . import runner
    from .compare import compare, no_baseline

    policies = policymod.load(policies_path)
    stored = load_baseline(baseline_path)
    rev, why_not = reference_rev(reference, stored)
    ref_rec = None
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        ref = None
        if rev is not None:
            try:
                ref = referencemod.checkout(rev, Path(tmp))
            except HarnessError as exc:
                if reference != AUTO:
                    raise
                why_not = f"no in-session reference: {exc}"
        if ref is None:
            rec = runner.run(config, repeat=repeat, progress=progress, command=command)
        else:
            current, refs, dropped = referencemod.interleaved(config, repeat, ref, progress, command)
            rec = recordmod.merge_repetitions(current)
            recordmod.validate(rec)
            if dropped:
                why_not = f"the in-session reference was dropped: {dropped}"
            elif refs:
                ref_rec = recordmod.merge_repetitions(refs)
    ref_doc = None if ref_rec is None else {"record": ref_rec, "provenance": _provenance(ref_rec, ref)}
    if stored is None and ref_doc is None:
        verdict = no_baseline(rec, str(baseline_path), baselinemod.missing(baseline_path, rec["profile"]))
    elif stored is None:  # an explicit reference and nothing stored: everything against the reference
        verdict = compare(rec, {**ref_doc, "seed_spread": None}, policies, baseline_path=None, reference=ref_doc)
    else:
        verdict = compare(rec, stored, policies, baseline_path=str(baseline_path), reference=ref_doc)
    if why_not:
        note = f"{why_not}; times are judged against the stored baseline with the cross-session threshold"
        verdict = dataclasses.replace(verdict, notes=(*verdict.notes, note))
    return Outcome(rec, verdict, ref_rec)


def _provenance(ref_rec: dict, ref) -> dict:
    # paired: reference run i and current run i ran side by side (harness.reference.interleaved)
    return {"commit": ref.commit, "runs": ref_rec["repeat"], "date": ref_rec["finished_at"],
            "how": "re-run in this session, alternating with the current runs", "paired": True}
