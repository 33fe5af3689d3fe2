"""Text forms of a Verdict: a terminal table, markdown (CI job summary, PR comment: pr_comment.py), JSON.

The report (harness/output/report) reuses ``markdown()`` and the cells of ``rows()``; nothing else formats verdicts.
"""

from __future__ import annotations

import json
import math

from harness.judge.verdict import Verdict
from harness.measure import host

ICONS = {"failed": "⛔", "regressed": "🔴", "incomparable": "⚪", "missing": "❔", "undecided": "🟡",
         "improved": "🟢", "ok": "✅"}
COLUMNS = ("measurement", "baseline", "current", "change", "CI", "threshold", "verdict", "why")


def value(x: float | None, unit: str | None, style: str = "table", digits: int | None = None) -> str:
    """A measurement value with its unit: the one value formatter for every output.

    ``style`` picks the precision for the reader:

    - ``"table"`` (verdict tables, markdown, summaries, calibration tables): ``1.50 GiB``, ``300.0 MiB``,
      ``12.34 s``, ``13,762 rows/s``, ``4.2%`` (unit ``"%"``: a percentage, one decimal); ``-`` when missing.
    - ``"compact"`` (the HTML report and its charts): three significant figures, scaled: ``1.5 GiB``,
      ``12.3 ms``, ``13.8k rows/s``; ``–`` when missing or NaN.
    - ``"series"`` (change points in history): bytes in MiB, otherwise four significant figures
      followed by the unit.

    With ``digits`` the value is a bare number with that many decimals and thousands separators,
    for a column whose header names the unit (``1,234.5``); with unit ``"%"`` a percentage with
    that many decimals (``42%``); ``-`` when missing.
    """
    if digits is not None:
        return "-" if x is None else (f"{x:.{digits}f}%" if unit == "%" else f"{x:,.{digits}f}")
    return _STYLES[style](x, unit)


def _table_value(x: float | None, unit: str | None) -> str:
    if x is None:
        return "-"
    if unit == "bytes":
        return f"{x / 2**30:.2f} GiB" if abs(x) >= 2**30 else f"{x / 2**20:.1f} MiB"
    if unit == "s":
        return f"{x:.4g} s"
    if unit in ("rows/s", "samples/s"):
        return f"{x:,.0f} {unit}"
    if unit == "count":
        return f"{x:,.0f}"
    if unit == "%":
        return f"{x:.1f}%"
    return f"{x:.4f}"


def _compact_value(x: float | None, unit: str | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unit == "bytes":
        for div, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(x) >= div:
                return f"{x / div:.3g} {suffix}"
        return f"{x:.0f} B"
    if unit == "s":
        return f"{x * 1000:.3g} ms" if abs(x) < 1 else f"{x:.3g} s"
    if unit in ("rows/s", "samples/s"):
        scaled = next(((x / d, s) for d, s in ((1e6, "M"), (1e3, "k")) if abs(x) >= d), (x, ""))
        return f"{scaled[0]:.3g}{scaled[1]} {unit}"
    if unit == "count":
        return f"{x:.0f}"
    return f"{x:.4g}"


def _series_value(x: float | None, unit: str | None) -> str:
    if x is None:
        return "-"
    if unit == "bytes":
        return f"{x / 2**20:.1f} MiB"
    if unit in ("s", "seconds"):
        return f"{x:.4g} s"
    return f"{x:.4g}" + (f" {unit}" if unit and unit not in ("1", "unit") else "")


_STYLES = {"table": _table_value, "compact": _compact_value, "series": _series_value}


def signed_pct(x: float | None) -> str:
    if x is None:
        return "-"
    if x != 0 and abs(x) < 0.1:
        return f"{x:+.2g}%"
    return f"{x:+.1f}%"


def ci(lo: float | None, hi: float | None, confidence: float | None) -> str:
    if lo is None or hi is None:
        return "-"
    level = f"{confidence * 100:.4g}% " if confidence else ""
    return f"{level}[{signed_pct(lo)}, {signed_pct(hi)}]"


def threshold(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2g}%" if x < 0.1 else f"{x:.1f}%")


def rows(verdict: Verdict) -> list[tuple[str, ...]]:
    """One row of cells per measurement, in the verdict's order (regressions first)."""
    return [(m.name, value(m.baseline, m.unit), value(m.current, m.unit), signed_pct(m.change_pct),
             ci(m.ci_low_pct, m.ci_high_pct, m.confidence), threshold(m.threshold_pct), m.verdict, m.reason)
            for m in verdict.measurements]


def _counts(verdict: Verdict) -> str:
    from harness.output.digest import counts

    return counts(verdict.measurements)


def _header(verdict: Verdict) -> list[str]:
    prov = verdict.baseline_provenance
    lines = [f"t4rec-bench verdict: {verdict.overall.upper()} (exit {verdict.exit_code}); {_counts(verdict)}",
             f"run {verdict.run_id} (profile {_profile_name(verdict)}{_backend(verdict, ', etl_backend {}')}) "
             f"vs baseline {verdict.baseline_path or '(none)'}"]
    if prov:
        lines.append(f"baseline recorded {prov.get('date', '?')} at commit {str(prov.get('commit'))[:10]}, "
                     f"{_runs(prov)} runs")
    if verdict.reference_provenance:
        lines.append(reference_line(verdict.reference_provenance))
    return lines


def _profile_name(verdict: Verdict) -> str | None:
    from harness.output.digest import profile_name

    return profile_name(verdict)


def _backend(verdict: Verdict, form: str) -> str:
    """``form`` with the run's ETL backend ("pandas" or "cudf") filled in; "" when the verdict does not
    carry one (a record from before runs wrote ``etl_backend``)."""
    return form.format(verdict.etl_backend) if verdict.etl_backend else ""


def reference_line(ref: dict) -> str:
    where = f" in {ref['environment']}" if ref.get("environment") else ""
    cross = ("; a third arm ran that commit in this environment, to tell a code change from an "
             "environment change" if ref.get("arms", 2) > 2 else "")
    if cross and ref.get("partner"):
        cross += (" (each round ran as two pairs: the current code with the reference, then the third arm with "
                  "a second run of the reference)")
    return (f"times and throughputs against the in-session reference: commit {str(ref.get('commit'))[:10]}{where}, "
            f"{ref.get('how', 're-run in this session')}, {ref.get('runs')} runs{cross}"
            + (f"; sequential gate: {ref['stopped']}" if ref.get("stopped") else "")
            + (f"; {ref['launch']}" if ref.get("launch") else "")
            + (f"; {host.words(ref['host'])}" if ref.get("host") else ""))


def _cause_lines(verdict: Verdict) -> list[str]:
    """"cause of train.wall_s: environment: transformers4rec 23.12.0 -> 23.12.0.post1 (...)" per attributed row."""
    return [f"cause of {m.name}: {m.cause}" for m in verdict.measurements if m.cause]


def _runs(prov: dict):
    runs = prov.get("runs")
    return len(runs) if isinstance(runs, list) else runs


def _env_lines(verdict: Verdict) -> list[str]:
    return [f"environment differs: {k}: {a!r} -> {b!r}" for k, a, b in verdict.environment_diff]


def _fixed(body: list[tuple[str, ...]]) -> list[str]:
    """Header and rows padded to column widths; the last column (why) is not padded."""
    widths = [max(len(r[i]) for r in [COLUMNS, *body]) for i in range(len(COLUMNS) - 1)]
    def fmt(r: tuple[str, ...]) -> str:  # a row has one cell more than widths: the last is not padded
        return ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]).rstrip()

    return [fmt(COLUMNS), *(fmt(r) for r in body)]


def _profile_lines(verdict: Verdict) -> list[str]:
    """The differential profile, when the verdict has one: per stage, its time on each side and its top functions."""
    from harness.output import digest

    profile = digest.profile_of(verdict)
    if profile is None:
        return []
    if digest.profile_skipped(profile):
        return [f"no profile: {digest.profile_skipped(profile)}"]
    lines = []
    for stage in digest.profile_stages(profile):
        cur, ref = stage.get("current") or {}, stage.get("reference") or {}
        lines.append(f"profile of {stage.get('stage')} ({profile.get('profiler')}): {value(cur.get('seconds'), 's')} "
                     f"against {value(ref.get('seconds'), 's')} in the reference")
        lines += [f"  {f.get('delta_s', 0):+.3g} s  {f.get('function')}  {f.get('file')}:{f.get('line')}"
                  for f in stage.get("functions") or []]
    return lines


def table(verdict: Verdict) -> str:
    """Fixed-width table for a terminal, with a header naming the run, baseline and overall verdict."""
    lines = (_header(verdict) + _cause_lines(verdict) + _profile_lines(verdict) + _env_lines(verdict)
             + [f"note: {n}" for n in verdict.notes])
    return "\n".join([*lines, "", *_fixed(rows(verdict))]) + "\n"


def row_table(verdict: Verdict, name: str) -> str:
    """The table's header line and one measurement's row (for test failure messages)."""
    return "\n".join(_fixed([r for r in rows(verdict) if r[0] == name]))


def markdown(verdict: Verdict, **options) -> str:
    """Markdown for a pull-request comment or a CI job summary (harness/output/pr_comment.py, which takes
    ``options``: primary, report_url, profile)."""
    from harness.output import pr_comment

    return pr_comment.render(verdict, **options)


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(verdict: Verdict) -> str:
    """The verdict file for machines: ``Verdict.to_dict()`` with format_version and kind."""
    return json.dumps(_finite(verdict.to_dict()), indent=1, allow_nan=False) + "\n"
