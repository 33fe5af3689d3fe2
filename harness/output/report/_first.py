"""The report's first screen: the headline, what moved and what moved it, what could not be compared, the
undecided measurements with what they rule out, and the differential profile with its flame graph.

Shaped from harness.output.digest, as the pull-request markdown is (harness/output/pr_comment.py), so the
two say the same; cells are harness.output.formatters'. Pure: the profile's folded stacks are read by
harness/documents/folded.py.
"""

from __future__ import annotations

from harness.output import digest
from harness.output import formatters as fmt
from harness.output.report import _data


def first_screen(verdict, primary: str | None, profile: dict | None, folded: dict | None) -> dict:
    """What the page's first screen shows; ``verdict`` a Verdict or its document, ``folded`` what
    harness/documents/folded.py ``read`` returned."""
    v = _data.as_verdict(verdict)
    h = digest.headline(v, primary or digest.committed_primary())
    return {"headline": {"primary": _cells(h.primary) if h.primary else None, "pairs": h.pairs,
                         "stopped": h.stopped, "commit": h.commit, "against": h.against},
            "moved": [{**_cells(r.m), "cause": r.note} for r in digest.moved(v)],
            "uncompared": [{"verdict": g.verdict, "mark": _data.VERDICT_MARKS.get(g.verdict, "•"), "reason": g.reason,
                            "names": list(g.shown), "more": len(g.names) - len(g.shown)} for g in digest.uncompared(v)],
            "nothing_moved": digest.nothing_moved(v),
            "undecided": [{**_cells(r.m), "rules_out": r.note, "detectable": fmt.threshold(r.m.min_detectable_pct),
                           "threshold": fmt.threshold(r.m.threshold_pct)} for r in digest.undecided(v)],
            "profile": profile_view(profile, folded)}


def _cells(m) -> dict:
    return {"name": m.name, "verdict": m.verdict, "mark": _data.VERDICT_MARKS.get(m.verdict, "•"),
            "baseline": fmt.value(m.baseline, m.unit), "current": fmt.value(m.current, m.unit),
            "change": fmt.signed_pct(m.change_pct), "change_pct": m.change_pct,
            "ci": fmt.ci(m.ci_low_pct, m.ci_high_pct, m.confidence), "against": m.against}


def profile_view(profile: dict | None, folded: dict | None) -> dict | None:
    """The profile as the page shows it: None (no profile: say nothing), {"skipped": why}, or its stages
    with their top functions and the flame graph (or why it is not drawn)."""
    if profile is None:
        return None
    why = digest.profile_skipped(profile)
    if why:
        return {"skipped": why}
    flame, flame_note = _flame(profile, folded or {})
    overhead = profile.get("overhead_pct") or {}
    return {"skipped": None, "profiler": profile.get("profiler") or "a sampling profiler",
            "rate_hz": profile.get("rate_hz"), "trigger": list(profile.get("trigger") or []),
            "stages": [_stage(s, overhead.get(s.get("stage"))) for s in digest.profile_stages(profile)],
            "flame": flame, "flame_note": flame_note}


def _stage(stage: dict, overhead: float | None) -> dict:
    cur, ref = stage.get("current") or {}, stage.get("reference") or {}
    return {"stage": stage.get("stage"), "overhead": None if overhead is None else f"{overhead:+.1f}%",
            "current": fmt.value(cur.get("seconds"), "s"), "reference": fmt.value(ref.get("seconds"), "s"),
            "current_samples": fmt.value(cur.get("samples"), "count"),
            "reference_samples": fmt.value(ref.get("samples"), "count"),
            "functions": [_function(f) for f in stage.get("functions") or []]}


def _function(f: dict) -> dict:
    delta = f.get("delta_s")
    def share(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    return {"function": f.get("function"), "where": f"{f.get('file')}:{f.get('line')}" if f.get("file") else "–",
            "current": fmt.value(f.get("current_s"), "s"), "reference": fmt.value(f.get("reference_s"), "s"),
            "delta": "–" if delta is None else f"{delta:+.3g} s", "delta_s": delta,
            "current_share": share(f.get("current_share")), "reference_share": share(f.get("reference_share"))}


def _flame(profile: dict, folded: dict) -> tuple[str | None, str | None]:
    """(the flame graph's SVG, None) or (None, why it is not drawn)."""
    from markupsafe import Markup

    from harness.errors import HarnessError
    from harness.output.report import flame

    if folded.get("error"):
        return None, folded["error"]
    if "current" not in folded or "reference" not in folded:
        return None, "the profile names no folded-stack files"
    try:
        return Markup(flame.svg(folded["current"], folded["reference"], profile.get("rate_hz"))), None
    except HarnessError as exc:
        return None, str(exc)
