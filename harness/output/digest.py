"""What a reader asks of a verdict first, as plain data: the pull-request markdown and the HTML report's
first screen both read it, so the two say the same thing.

The headline (verdict word, the primary measurement's change and interval, the pairs run, the commit it
was judged against), what moved and what moved it, what could not be compared, what stays undecided and
what its interval rules out, and the differential profile when the check took one. Pure functions:
a verdict in, rows out; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.judge.verdict import SEVERITY, MeasurementVerdict

MOVED = ("regressed", "improved")
UNCOMPARED = ("failed", "incomparable", "missing")
SHOWN_NAMES = 5  # names listed per group of measurements that could not be compared
PROFILE_KEY = "profile_diff"  # the verdict's differential profile (harness/documents/verdict.py)


@dataclass(frozen=True)
class Headline:
    overall: str  # the verdict word
    exit_code: int
    counts: str  # "3 regressed, 1 missing, 2 ok"
    primary: MeasurementVerdict | None  # the [gate] primary measurement, when the verdict has it
    pairs: int | None  # pairs run with the in-session reference; None without one
    stopped: str | None  # why the sequential gate stopped
    commit: str | None  # the commit judged against: the reference's, else the stored baseline's
    against: str  # "the in-session reference" or "the stored baseline"


@dataclass(frozen=True)
class Row:
    m: MeasurementVerdict
    note: str  # moved: its cause; undecided: what its interval rules out; uncompared: its reason


def _get(v, key: str, default=None):
    return v.get(key, default) if isinstance(v, dict) else getattr(v, key, default)


def counts(measurements) -> str:
    """``3 regressed, 1 missing, 2 ok``: how many measurements got each word, worst first."""
    n = {w: sum(m.verdict == w for m in measurements) for w in SEVERITY}
    return ", ".join(f"{n[w]} {w}" for w in SEVERITY if n[w])


def committed_primary() -> str | None:
    """[gate] primary of the committed harness/policies.toml (None if it cannot be read)."""
    from harness.errors import HarnessError
    from harness.judge import policy

    try:
        return policy.load().gate.primary
    except HarnessError:
        return None


def headline(verdict, primary: str | None) -> Headline:
    """The headline of ``verdict``; ``primary``: the measurement to lead with ([gate] primary)."""
    ref, base = verdict.reference_provenance or {}, verdict.baseline_provenance or {}
    lead = next((m for m in verdict.measurements if m.name == primary), None)
    commit = ref.get("commit") or base.get("commit")
    return Headline(verdict.overall, verdict.exit_code, counts(verdict.measurements), lead,
                    ref.get("runs") if ref.get("paired") else None, ref.get("stopped"),
                    str(commit)[:10] if commit else None,
                    "the in-session reference" if ref else "the stored baseline")


def moved(verdict) -> list[Row]:
    """The measurements that regressed or improved, regressions first, each with its cause."""
    rows = [Row(m, cause(m, verdict)) for m in verdict.measurements if m.verdict in MOVED]
    return sorted(rows, key=lambda r: MOVED.index(r.m.verdict))


@dataclass(frozen=True)
class Uncompared:
    verdict: str  # "failed", "incomparable" or "missing"
    reason: str  # the verdict's reason, shared by every measurement here
    names: tuple[str, ...]

    @property
    def shown(self) -> tuple[str, ...]:
        """The names a summary lists; the folded full table has them all."""
        return self.names[:SHOWN_NAMES]


def uncompared(verdict) -> list[Uncompared]:
    """Failed, incomparable and missing measurements, grouped by verdict and reason (without a baseline
    every measurement is missing for one reason: one line, not fifty)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for m in verdict.measurements:
        if m.verdict in UNCOMPARED:
            groups.setdefault((m.verdict, m.reason), []).append(m.name)
    return [Uncompared(v, reason, tuple(names)) for (v, reason), names in groups.items()]


def nothing_moved(verdict) -> str:
    """What to say when no measurement moved: whether any was compared at all."""
    if any(m.verdict not in UNCOMPARED for m in verdict.measurements):
        return "Nothing moved beyond its threshold."
    return "Nothing could be compared."


def undecided(verdict) -> list[Row]:
    """The undecided measurements, each with what its interval rules out."""
    return [Row(m, rules_out(m)) for m in verdict.measurements if m.verdict == "undecided"]


def cause(m: MeasurementVerdict, verdict) -> str:
    """What moved ``m``: the judge's attribution (harness/judge/attribution.py) when the three arms ran,
    else what the comparison itself implies."""
    if m.cause:
        return m.cause
    ref = verdict.reference_provenance or {}
    if m.against in ("reference", "cross") and ref.get("arms", 2) <= 2:
        return "code (the reference ran the baseline's commit in an environment with the same distributions)"
    if m.against in ("reference", "cross"):
        return "not attributed (the code x environment arms attribute regressions only)"
    if verdict.environment_diff:
        return "code or environment, not told apart (judged against the stored baseline, whose environment differs)"
    return "code (judged against the stored baseline, in the same environment)"


def rules_out(m: MeasurementVerdict) -> str:
    """``worse than +39.0% or better than -2.0%``: the changes outside the measurement's interval."""
    from harness.output.formatters import signed_pct

    if m.ci_low_pct is None or m.ci_high_pct is None:
        return "nothing yet (no interval)"
    worse, better = (m.ci_low_pct, m.ci_high_pct) if m.higher_is_better else (m.ci_high_pct, m.ci_low_pct)
    return f"worse than {signed_pct(worse)} or better than {signed_pct(better)}"


def profile_of(verdict) -> dict | None:
    """The verdict's differential profile (harness/documents/verdict.py), from a Verdict or its document;
    None when it has none (the key absent or null, or a verdict from before profiles)."""
    found = _get(verdict, PROFILE_KEY)
    return found if isinstance(found, dict) else None


def profile_name(verdict) -> str | None:
    """The workload profile the run used ("ci"), wherever the verdict keeps it."""
    found = _get(verdict, "profile")
    return found if isinstance(found, str) else None


def profile_skipped(profile: dict | None) -> str | None:
    """Why the check took no profile (``"skipped"``), or None."""
    return (profile or {}).get("skipped") or None


def profile_stages(profile: dict | None) -> list[dict]:
    """The profile's stages, each with its functions (top first); [] when skipped or absent."""
    if not profile or profile_skipped(profile):
        return []
    return [s for s in profile.get("stages") or [] if isinstance(s, dict)]
