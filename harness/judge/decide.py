"""The one judge: every entry point (check, the pytest gate, compare, nightly, report) calls ``verdict_of``.

It reads the stored baseline (if there is one) and the policies, takes the in-session arms when
a check ran them (harness/pairing/gate.py), and returns one Verdict (harness/judge/compare.py). Nothing is
measured here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.documents import baseline as baselinemod
from harness.documents.record_types import RunRecord
from harness.judge import policy as policymod

_STORED = object()  # "read the stored baseline from the path"


def load_baseline(path) -> dict | None:
    """The stored baseline at ``path``; None if there is none (exit-3 case); HarnessError if unreadable."""
    return baselinemod.load(path) if path is not None and Path(path).exists() else None


def verdict_of(run: RunRecord, baseline_path, policies_path=None, *, stored=_STORED, in_session: dict | None = None,
          why_no_reference: str | None = None):
    """The verdict of ``run``.

    baseline_path: the stored baseline's file (read here unless ``stored`` is given, None for none).
    in_session: the arms a check ran beside ``run`` ({"record", "provenance", "cross", "changed",
        "code_range", "notes"}, harness.pairing.gate); times are judged against them, and a regression is
        attributed to the code or the environment when a cross arm ran.
    why_no_reference: why no in-session reference ran, when one was expected (a verdict note).
    A baseline that exists but cannot be read raises HarnessError (exit 2).
    """
    from harness.judge.compare import compare, no_baseline

    policies = policymod.load(policies_path)
    stored = load_baseline(baseline_path) if stored is _STORED else stored
    if stored is None and in_session is None:
        why = baselinemod.missing(baseline_path, run["profile"]) if baseline_path else "no baseline given"
        return no_baseline(run, None if baseline_path is None else str(baseline_path), why)
    if stored is None and in_session is not None:  # nothing stored: everything against the reference
        doc = {"record": in_session["record"], "provenance": in_session["provenance"], "seed_spread": None}
        verdict = compare(run, doc, policies, baseline_path=None, reference=in_session)
    else:
        verdict = compare(run, stored, policies, baseline_path=str(baseline_path), reference=in_session)
    notes = list((in_session or {}).get("notes") or ())
    if why_no_reference:
        notes.append(f"{why_no_reference}; times are judged against the stored baseline with the "
                     f"cross-session threshold")
    return dataclasses.replace(verdict, notes=(*verdict.notes, *notes)) if notes else verdict


def stop_reason(verdict, pairs: int, repeat: int, max_pairs: int, name_until: int | None = None) -> str | None:
    """Why the sequential gate ends after ``pairs`` pairs, or None to go on.

    - A gated measurement regressed (a time against the in-session arms, or memory against the stored
      baseline, judged at every look): stop once every other measurement whose change is beyond its
      threshold is decided too, or at ``name_until`` pairs ([gate] extra_pairs after the first), so that
      the verdict names every regression it can.
    - Every in-session measurement is decided (ok or improved): stop.
    - Past ``repeat``: go on only while an undecided measurement could still be decided by ``max_pairs``
      (MeasurementVerdict.decidable); at ``max_pairs`` stop undecided.
    """
    arms = [m for m in verdict.measurements if m.against in ("reference", "cross")]
    regressed = [m.name for m in verdict.measurements if m.verdict == "regressed"]
    undecided = [m for m in arms if m.verdict == "undecided"]
    if regressed:
        pending = [m.name for m in undecided if m.decidable and _beyond(m)]
        if not pending or pairs >= max_pairs or (name_until is not None and pairs >= name_until):
            return f"regressed ({', '.join(regressed)})"
        return None
    if arms and not undecided:
        return "decided: every gated time is ok or improved"
    if pairs >= max_pairs:
        return f"undecided after the most pairs ([gate] max_pairs = {max_pairs}): {_names(undecided)}"
    if pairs >= repeat and not any(m.decidable for m in undecided):
        return f"undecided, and more pairs (to {max_pairs}) could not decide {_names(undecided)}"
    return None


def _beyond(m) -> bool:
    """Whether ``m``'s change is beyond its threshold in the worse direction."""
    if m.change_pct is None or m.threshold_pct is None:
        return False
    worse = -m.change_pct if m.higher_is_better else m.change_pct
    return worse > m.threshold_pct


def _names(ms) -> str:
    return ", ".join(m.name for m in ms) or "no measurement"


def stop_pairs(look, pairs: int, settings: dict) -> bool:
    """The stop rule of one measurement's pairs (harness/judge/significance.py ``paired_look``; bisect-env,
    nightly): decided, or past ``repeat`` with nothing more pairs could decide, or at ``max_pairs``."""
    if pairs < settings["min_pairs"]:
        return False
    if look.state != "undecided" or pairs >= settings["max_pairs"]:
        return True
    return pairs >= settings["repeat"] and not look.decidable
