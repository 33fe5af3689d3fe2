"""The verdict in markdown, laid out for a pull-request comment or a CI job summary (`check --format github`,
`check --markdown-out`, `compare --format markdown`, the report's summary.md): one markdown for all of them.

In order: the headline (verdict word, the primary measurement's change and interval, the pairs run, the
commit judged against), what moved and what moved it, the top of the differential profile, the undecided
measurements with what their intervals rule out, a link to the HTML report, and the full table folded.
The facts come from harness.output.digest (the HTML report's first screen reads the same), the cells from
harness.output.formatters.
"""

from __future__ import annotations

from harness.output import digest
from harness.output.formatters import ICONS, ci, reference_line, rows, signed_pct, threshold, value

# GitHub refuses a comment longer than this many characters; the folded table gives way first
COMMENT_LIMIT = 65_536
FULL_COLUMNS = ("Measurement", "Baseline", "Current", "Change", "CI", "Threshold", "Why")


def render(verdict, *, primary: str | None = None, report_url: str | None = None, profile: dict | None = None) -> str:
    """The markdown of ``verdict`` (a Verdict). ``primary``: the measurement the headline leads with
    ([gate] primary in harness/policies.toml; default: read from the committed file). ``report_url``: where
    the HTML report is (no link when None). ``profile``: the differential profile (default: the verdict's)."""
    primary = primary or digest.committed_primary()
    profile = profile if profile is not None else digest.profile_of(verdict)
    head = [*_headline(verdict, primary), *_moved(verdict), *_profile(profile), *_undecided(verdict),
            *_link(report_url)]
    text = "\n".join(head + _details(verdict, with_why=True))
    if len(text) > COMMENT_LIMIT:
        text = "\n".join(head + _details(verdict, with_why=False))
    return text if len(text) <= COMMENT_LIMIT else text[:COMMENT_LIMIT - 80] + "\n\n(cut: see the HTML report)\n"


def cell(text: object) -> str:
    """Text made safe for one markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _headline(verdict, primary: str | None) -> list[str]:
    h = digest.headline(verdict, primary)
    lead = []
    if h.primary is not None:
        m = h.primary
        lead.append(f"**`{m.name}` {signed_pct(m.change_pct)}**" + (f", {ci(m.ci_low_pct, m.ci_high_pct, m.confidence)}"
                                                             if m.ci_low_pct is not None else ""))
    where = f"commit `{h.commit}`" if h.commit else "no commit"
    lead.append(f"{h.pairs} pairs with {h.against}, {where}" if h.pairs else f"judged against {h.against}, {where}")
    lead.append(f"**{h.counts}**")
    first = " · ".join(lead)
    lines = [f"### {ICONS[h.overall]} t4rec-bench: {h.overall} (exit {h.exit_code})", "",
             first[:1].upper() + first[1:], "", _context(verdict)]
    if verdict.reference_provenance:
        lines.append(reference_line(verdict.reference_provenance).capitalize() + ".")
    lines.append("")
    lines += [f"> **Note:** {cell(n)}" for n in verdict.notes] + ([""] if verdict.notes else [])
    return lines


def _context(verdict) -> str:
    prov = verdict.baseline_provenance
    name = digest.profile_name(verdict)
    backend = f", etl_backend `{verdict.etl_backend}`" if verdict.etl_backend else ""
    runs = prov.get("runs") if prov else None
    runs = len(runs) if isinstance(runs, list) else runs
    return (f"Run `{verdict.run_id}` (profile `{name}`{backend}) against `{verdict.baseline_path or 'no baseline'}`"
            + (f", recorded {prov.get('date', '?')} at commit `{str(prov.get('commit'))[:10]}` from {runs} runs."
               if prov else "."))


def _moved(verdict) -> list[str]:
    moved, lost = digest.moved(verdict), digest.uncompared(verdict)
    lines = ["#### What moved", ""]
    if moved:
        lines += ["| | Measurement | Baseline | Current | Change | CI | Cause |", "|---|---|--:|--:|--:|--:|---|"]
        lines += [_row(r.m, [value(r.m.baseline, r.m.unit), value(r.m.current, r.m.unit), signed_pct(r.m.change_pct),
                             ci(r.m.ci_low_pct, r.m.ci_high_pct, r.m.confidence), r.note]) for r in moved]
    else:
        lines.append(digest.nothing_moved(verdict))
    lines.append("")
    lines += [f"- {ICONS[g.verdict]} {g.verdict}: {_names(g)}: {cell(g.reason)}" for g in lost]
    lines += [""] if lost else []
    if verdict.environment_diff:
        lines += ["| Environment | Baseline | This run |", "|---|---|---|"]
        lines += [f"| `{k}` | {cell(repr(a))} | {cell(repr(b))} |" for k, a, b in verdict.environment_diff]
        lines.append("")
    return lines


def _names(group: digest.Uncompared) -> str:
    """``a``, ``b`` and 3 more: the first few names of a group, then a count."""
    more = len(group.names) - len(group.shown)
    return ", ".join(f"`{n}`" for n in group.shown) + (f" and {more} more" if more else "")


def _row(m, cells: list[str]) -> str:
    return "| " + " | ".join([f"{ICONS[m.verdict]} {m.verdict}", f"`{m.name}`", *(cell(c) for c in cells)]) + " |"


def _profile(profile: dict | None) -> list[str]:
    if profile is None:
        return []
    why = digest.profile_skipped(profile)
    if why:
        return [f"No profile: {cell(why)}", ""]
    trigger = ", ".join(f"`{t}`" for t in profile.get("trigger") or [])
    lines = ["#### Where the time went (differential profile)", "",
             f"{profile.get('profiler', 'a sampling profiler')} at {profile.get('rate_hz', '?')} Hz on one extra pair "
             f"that was not judged" + (f", for {trigger}" if trigger else "") + ".", ""]
    for stage in digest.profile_stages(profile):
        lines += [_stage_line(stage, (profile.get("overhead_pct") or {}).get(stage.get("stage"))), ""]
        lines += ["| Function | Where | Current | Reference | Change | Share of the stage, reference → current |",
                  "|---|---|--:|--:|--:|--:|"]
        lines += [_function_row(f) for f in stage.get("functions") or []]
        lines.append("")
    return lines


def _stage_line(stage: dict, overhead: float | None) -> str:
    cur, ref = stage.get("current") or {}, stage.get("reference") or {}
    return (f"`{stage.get('stage')}`: {value(cur.get('seconds'), 's')} ({value(cur.get('samples'), 'count')} samples) "
            f"in the current run, {value(ref.get('seconds'), 's')} ({value(ref.get('samples'), 'count')}) "
            "in the reference"
            + (f"; the profiler's overhead {overhead:+.1f}%" if overhead is not None else ""))


def _function_row(f: dict) -> str:
    where = f"{f.get('file')}:{f.get('line')}" if f.get("file") else "-"
    delta = f.get("delta_s")
    share = f"{_share(f.get('reference_share'))} → {_share(f.get('current_share'))}"
    return (f"| `{cell(f.get('function'))}` | `{cell(where)}` | {value(f.get('current_s'), 's')} | "
            f"{value(f.get('reference_s'), 's')} | {'-' if delta is None else f'{delta:+.3g} s'} | {share} |")


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _undecided(verdict) -> list[str]:
    rows_ = digest.undecided(verdict)
    if not rows_:
        return []
    lines = ["#### Undecided", "", "| | Measurement | Change | CI | Rules out | Could detect |",
             "|---|---|--:|--:|---|--:|"]
    lines += [_row(r.m, [signed_pct(r.m.change_pct), ci(r.m.ci_low_pct, r.m.ci_high_pct, r.m.confidence), r.note,
                         _detectable(r.m)]) for r in rows_]
    return lines + [""]


def _detectable(m) -> str:
    if m.min_detectable_pct is None:
        return "-"
    wants = f" (the policy wants {threshold(m.threshold_pct)})" if m.threshold_pct is not None else ""
    return f"{threshold(m.min_detectable_pct)}{wants}"


def _link(url: str | None) -> list[str]:
    return [f"**HTML report:** [{url}]({url})", ""] if url else []


def _details(verdict, with_why: bool) -> list[str]:
    columns = FULL_COLUMNS if with_why else FULL_COLUMNS[:-1]
    lines = [f"<details><summary>All {len(verdict.measurements)} measurements</summary>", "",
             "| | " + " | ".join(columns) + " |", "|---|---|--:|--:|--:|--:|--:|" + ("---|" if with_why else "")]
    for m, cells in zip(verdict.measurements, rows(verdict), strict=True):
        body = [cells[1], cells[2], cells[3], cells[4], cells[5]] + ([m.reason] if with_why else [])
        lines.append(_row(m, body))
    return lines + ["", "</details>", ""]
