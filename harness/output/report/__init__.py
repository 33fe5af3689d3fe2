"""The HTML performance report: one self-contained page built from run records.

    build_report(runs, "reports/index.html", verdict=v, baseline=b, history=h, changepoints=c)
    build_from_files("reports/index.html", ["run.json"], history_dir="reports/history")

write ``reports/index.html`` and ``reports/summary.md`` (the verdict through
``harness.output.formatters.markdown``, for CI job summaries and pull requests). The page's first
screen answers what the markdown does (``_first``): the headline, what moved and why, what is
undecided, the differential profile with its flame graph (``flame``); the full table is folded. It has no
scripts and loads nothing: charts are inline SVG drawn by matplotlib (see ``charts``), styles
are inline, and a Content-Security-Policy forbids every fetch, so it works from ``file://``.
Templates are rendered by jinja2 with autoescaping on: every string from a record is data.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from harness.documents import atomic
from harness.documents import folded as folded_files
from harness.documents.record_types import RunRecord
from harness.dotted import flatten
from harness.output import digest
from harness.output.report import _data, _first
from harness.output.report._load import build_from_files

__all__ = ["build_report", "build_from_files", "render_html", "SUMMARY_NAME"]

SUMMARY_NAME = "summary.md"


def build_report(runs: list[RunRecord], out_path: str | Path, *, verdict=None, baseline: dict | None = None,
                 history: list[RunRecord] | None = None, changepoints=None,
                 summary_path: str | Path | None = None, primary: str | None = None, profile: dict | None = None,
                 verdict_dir: str | Path | None = None) -> Path:
    """Write the HTML report to ``out_path`` and the markdown summary beside it; return the HTML path.

    runs: current run records (several are pooled as repetitions of one workload).
    verdict: ``harness.judge.compare.compare(run, baseline)``'s Verdict (or its ``to_dict()``); None
        when there is no baseline. baseline: a baseline file (``harness.documents.baseline.load``); its
        ``record`` is drawn against the current run. history: records of the history folder,
        oldest first. changepoints: dicts {metric, index or run_id, commit_range, size_pct};
        ``index`` is a position in ``history``.
    summary_path: where the markdown goes; default ``summary.md`` beside the HTML.
    primary: the measurement the headline leads with (default: [gate] primary of harness/policies.toml).
    profile: the differential profile (default: the verdict's); its folded-stack paths are relative to
        ``verdict_dir`` (default: the HTML's folder).
    """
    out_path = Path(out_path)
    if profile is None and verdict is not None:
        profile = digest.profile_of(verdict)
    folded = folded_files.read(profile, verdict_dir if verdict_dir is not None else out_path.parent)
    html = render_html(runs, verdict=verdict, baseline=baseline, history=history, changepoints=changepoints,
                       primary=primary, profile=profile, folded=folded)
    atomic.write_text(out_path, html)
    summary = Path(summary_path) if summary_path else out_path.with_name(SUMMARY_NAME)
    atomic.write_text(summary, _summary_markdown(runs, verdict, out_path.name, primary, profile))
    return out_path


def render_html(runs: list[RunRecord], *, verdict=None, baseline: dict | None = None,
                history: list[RunRecord] | None = None, changepoints=None, primary: str | None = None,
                profile: dict | None = None, folded: dict | None = None) -> str:
    """The report page as a string (no I/O); arguments as for ``build_report``, and ``folded``: the
    profile's folded-stack texts ({"current": text, "reference": text}) for its flame graph."""
    context = _context(runs, verdict, baseline, history or [], changepoints)
    if profile is None and verdict is not None:
        profile = digest.profile_of(verdict)
    context["first"] = _first.first_screen(verdict, primary, profile, folded) if verdict is not None else None
    return _environment().get_template("page.html.j2").render(**context)


def _summary_markdown(runs: list[RunRecord], verdict, html_name: str, primary=None, profile=None) -> str:
    if verdict is not None:
        from harness.output.formatters import markdown

        return markdown(_data.as_verdict(verdict), primary=primary, report_url=html_name, profile=profile)
    run = _data.current_record(runs)
    backend = f", etl_backend `{run['etl_backend']}`" if run.get("etl_backend") else ""
    return (f"**t4rec-bench** run `{run['run_id']}` (profile `{run['profile']}`{backend}, status {run['status']}): "
            f"no baseline to compare against; see {html_name}.\n")


def _environment():
    import jinja2

    from harness.output import formatters

    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.output.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["human"] = functools.partial(formatters.value, style="compact")
    env.filters["signed_pct"] = formatters.signed_pct
    env.filters["num"] = lambda v, spec=".3g": "–" if v is None else format(v, spec)
    return env


def _context(runs, verdict, baseline, history, changepoints) -> dict:
    run = _data.current_record(runs)
    base = (baseline or {}).get("record")
    rows = _data.verdict_rows(verdict) if verdict is not None else []
    judged = {m.name: m for m in _data.as_verdict(verdict).measurements} if verdict is not None else {}
    stage_rows = _data.stage_rows(run, base, judged)
    trend = _data.history_series(history, run)
    cps = _data.changepoint_rows(changepoints, trend)
    return {
        "run": run, "runs": runs, "baseline": baseline, "base": base,
        "verdict": _data.verdict_summary(verdict) if verdict is not None else None,
        "verdict_rows": rows,
        "measurement_rows": _data.measurement_rows(run),
        "stage_rows": stage_rows, "day_rows": _day_rows(run, base),
        "charts": _charts(runs, run, baseline, stage_rows, trend, cps),
        "trend": trend, "changepoints": cps, "changepoints_given": changepoints is not None,
        "env_rows": _data.env_rows(run["environment"], base.get("environment") if base else None),
        "config_json": json.dumps(run["config"], indent=2, sort_keys=True),
        "config_rows": sorted(flatten(run["config"], keep_empty=True).items()),
        "profile_description": _profile_description(run["profile"]),
    }


def _charts(runs, run, baseline, stage_rows, trend, cps) -> dict:
    """Each chart as markup ready to inline (matplotlib's SVG, its text escaped), or None."""
    from markupsafe import Markup

    from harness.output.report import charts

    base = (baseline or {}).get("record")
    svg = {
        "quality": charts.quality_by_day(_run_series(runs), _data.day_series(base) if base else None,
                                         _data.baseline_spread(baseline)) if run.get("days") else None,
        "stages": charts.stage_breakdown(stage_rows) if stage_rows else None,
        "memory": charts.memory_timeline(run, base) if (run.get("timeline") or {}).get("t_s") else None,
        "history": charts.history_trends(trend, cps) if len(trend["points"]) >= 2 else None,
    }
    return {k: Markup(v) if v else None for k, v in svg.items()}


def _run_series(runs: list[RunRecord]) -> list[tuple[str, dict]]:
    if len(runs) == 1:
        return [("current", _data.day_series(runs[0]))]
    return [(r["run_id"], _data.day_series(r)) for r in runs]


def _day_rows(run: RunRecord, base: RunRecord | None) -> list[dict]:
    """Per evaluated day: each quality metric and the train loss, current and baseline."""
    old = {d["eval_day"]: d for d in (base.get("days", []) if base else [])}
    rows = []
    for d in run.get("days", []):
        b = old.get(d["eval_day"])
        base_metrics = (b.get("metrics") or {}) if b else {}
        values = {k: (d["metrics"].get(k), base_metrics.get(k)) for k in _data.QUALITY_METRICS}
        values["train_loss"] = (d["train_loss"], b.get("train_loss") if b else None)
        rows.append({"train_day": d["train_day"], "eval_day": d["eval_day"], "sessions": d["eval_sessions"],
                     "values": {k: {"current": c, "baseline": o, "change_pct": _data.change_pct(o, c)}
                                for k, (c, o) in values.items()}})
    return rows


def _profile_description(profile: str) -> str | None:
    from harness.config import load_profiles

    try:
        return load_profiles().get(profile, {}).get("description")
    except Exception:  # a missing or broken profiles file must not break a report
        return None
