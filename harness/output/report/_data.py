"""Pure data shaping for the report: records and verdicts in, plain rows and series out.

No I/O and no plotting here; ``charts`` draws what these functions return and the templates
lay out the rows. Every string stays a plain string: escaping is the template's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.documents import record as recmod
from harness.documents.record_types import Environment, RunRecord
from harness.dotted import flatten
from harness.errors import HarnessError
from harness.judge.stats import change_pct
from harness.measure import environment as envmod

# Symbol for each verdict, shown with its word so the tables read without colour.
VERDICT_MARKS = {"regressed": "✗", "failed": "✗", "missing": "?", "undecided": "~",
                 "incomparable": "≠", "improved": "▲", "ok": "✓"}
QUALITY_METRICS = ("ndcg_at_20", "ndcg_at_40", "recall_at_20", "recall_at_40")
HISTORY_METRICS = ("total.wall_s", "train.samples_per_s", "total.peak_rss_bytes",
                   "quality.ndcg_at_20", "quality.recall_at_20", "quality.final_train_loss")
STAGE_FIELDS = ("wall_s", "cpu_s", "peak_rss_bytes", "peak_anon_bytes")


def current_record(runs: list[RunRecord]) -> RunRecord:
    """The record the report is about: the one run, or several runs of one workload pooled."""
    if not runs:
        raise HarnessError("no run record to report on")
    workloads = {r["workload_hash"] for r in runs}
    if len(workloads) > 1:
        raise HarnessError(f"the runs have {len(workloads)} different workloads "
                           f"({', '.join(sorted(workloads))}); report one workload at a time")
    return runs[0] if len(runs) == 1 else recmod.merge_repetitions(runs)


def _get(v, key):
    return v.get(key) if isinstance(v, dict) else getattr(v, key, None)


def as_verdict(verdict):
    """A ``harness.judge.verdict.Verdict`` from one or from its ``to_dict()`` (a verdict JSON file)."""
    from harness.judge.verdict import Verdict

    return verdict if isinstance(verdict, Verdict) else Verdict.from_dict(verdict)


def verdict_summary(verdict) -> dict:
    """The headline: overall verdict, counts per verdict (worst first), baseline and notes."""
    from harness.judge.verdict import SEVERITY

    v = as_verdict(verdict)
    counts = {name: sum(m.verdict == name for m in v.measurements) for name in SEVERITY}
    return {"overall": v.overall, "mark": VERDICT_MARKS.get(v.overall, "•"), "exit_code": v.exit_code,
            "counts": [(k, n) for k, n in counts.items() if n], "baseline_path": v.baseline_path,
            "provenance": v.baseline_provenance or {}, "workload_match": v.workload_match,
            "notes": list(v.notes)}


def verdict_rows(verdict) -> list[dict]:
    """One row per measurement, worst verdict first (regressions lead), cells as
    ``harness.output.formatters`` writes them so the page and the markdown summary agree."""
    from harness.judge.verdict import SEVERITY
    from harness.output import formatters

    v = as_verdict(verdict)
    rows = [{"name": m.name, "verdict": m.verdict, "mark": VERDICT_MARKS.get(m.verdict, "•"),
             "baseline": cells[1], "current": cells[2], "change": cells[3], "ci": cells[4],
             "threshold": cells[5], "reason": m.reason, "change_pct": m.change_pct}
            for m, cells in zip(v.measurements, formatters.rows(v), strict=True)]
    def rank(r: dict) -> int:
        return SEVERITY.index(r["verdict"]) if r["verdict"] in SEVERITY else len(SEVERITY)

    return sorted(rows, key=rank)


def measurement_rows(run: RunRecord) -> list[dict]:
    """The run's measurements alone, for a report without a baseline."""
    return [{"name": m["name"], "unit": m["unit"], "current": m["value"], "samples": len(m["samples"]),
             "kind": m["kind"]} for m in run["measurements"]]


def stage_names(*records: RunRecord | None) -> list[str]:
    """Stages in pipeline order, as the records' timelines list them."""
    names: list[str] = []
    for rec in records:
        for s in rec.get("stages", []) if rec else []:
            if s["name"] not in names:
                names.append(s["name"])
    return names


def stage_rows(run: RunRecord, base: RunRecord | None, verdicts: dict | None = None) -> list[dict]:
    """Per stage: wall, CPU, peak RSS and throughput, current against what the verdict judged each
    against (the in-session reference for times, when one ran; else the stored baseline), with
    change in percent; the stored baseline's value stays as ``stored``.

    ``verdicts``: {measurement name: the verdict's MeasurementVerdict (or its dict)}.
    """
    cur, old = recmod.by_name(run), recmod.by_name(base) if base else {}
    verdicts = verdicts or {}
    rows = []
    for stage in stage_names(run, base):
        row: dict[str, str | dict | None] = {"stage": stage}
        for field in STAGE_FIELDS:
            row[field] = _pair(cur, old, f"{stage}.{field}", verdicts)
        rate = next((n for n in sorted({*cur, *old}) if n.startswith(f"{stage}.") and n.endswith("_per_s")), None)
        row["throughput"] = _pair(cur, old, rate, verdicts) if rate else None
        rows.append(row)
    return rows


def _pair(cur: dict, old: dict, name: str, verdicts: dict) -> dict:
    c, b, m = cur.get(name), old.get(name), verdicts.get(name)
    cv, stored = (c or {}).get("value"), (b or {}).get("value")
    samples = (b or {}).get("samples") or []
    low, high = (min(samples), max(samples)) if samples else (None, None)
    against, bv = "baseline", stored
    if m is not None and _get(m, "baseline") is not None:
        against, bv = _get(m, "against") or "baseline", _get(m, "baseline")
        low, high = _get(m, "comparand_low"), _get(m, "comparand_high")
    return {"name": name, "unit": (c or b or {}).get("unit"), "current": cv, "baseline": bv,
            "baseline_low": low, "baseline_high": high, "against": against, "stored": stored,
            "change_pct": change_pct(bv, cv), "higher_is_better": (c or b or {}).get("higher_is_better"),
            "verdict": _get(m, "verdict") if m is not None else None}


def day_series(rec: RunRecord) -> dict[str, list[tuple[int, float]]]:
    """Per evaluated day: each quality metric, train loss and eval loss, as (day, value) lists."""
    out: dict[str, list] = {}
    for d in rec.get("days", []):
        for key, value in d["metrics"].items():
            out.setdefault(key, []).append((d["eval_day"], value))
        out.setdefault("train_loss", []).append((d["train_day"], d["train_loss"]))
        if "eval_loss" in d:
            out.setdefault("eval_loss", []).append((d["eval_day"], d["eval_loss"]))
    return out


def baseline_spread(baseline: dict | None) -> dict[str, dict[int, tuple[float, float]]]:
    """The baseline's spread per metric and day, as {metric: {day: (low, high)}}.

    Known only for the last evaluated day (and last train day for the loss): the range of the
    multi-seed medians (``baseline["seed_spread"]["samples"]``) and of the baseline record's
    repetitions, whichever is wider.
    """
    if not baseline:
        return {}
    rec = baseline.get("record") or {}
    if not rec.get("days"):
        return {}
    last = rec["days"][-1]
    where = {"final_train_loss": ("train_loss", last["train_day"])}
    samples: dict[str, list[float]] = {}
    for m in rec.get("measurements", []):
        samples.setdefault(m["name"], []).extend(m["samples"])
    for name, values in (((baseline.get("seed_spread") or {}).get("samples")) or {}).items():
        samples.setdefault(name, []).extend(values)
    out: dict[str, dict] = {}
    for name, values in samples.items():
        stage, _, metric = name.partition(".")
        if stage != "quality" or len(values) < 2:
            continue
        key, day = where.get(metric, (metric, last["eval_day"]))
        out.setdefault(key, {})[day] = (min(values), max(values))
    return out


def env_rows(current: Environment, base: Environment | None) -> list[dict]:
    """Every environment field (dotted key), its value, the baseline's, and whether it changed."""
    flat_cur = flatten(dict(current), keep_empty=True)
    compared: Mapping[str, Any] = current
    if base and "distributions" not in base:  # an older record lists 19 packages, not every distribution
        compared = {k: v for k, v in current.items() if k not in ("distributions", "numerics", "numerics_fingerprint")}
    changed = {k: (a, b) for k, a, b in envmod.diff(base, compared)} if base else {}
    keys = sorted(set(flat_cur) | set(changed), key=lambda k: (k not in changed, k))
    return [{"key": k, "current": flat_cur.get(k), "baseline": changed[k][0] if k in changed else None,
             "changed": k in changed} for k in keys]


def history_context(rec: RunRecord) -> str:
    """Runs are comparable when profile, machine class and workload agree (as harness.judge.history)."""
    return f"history:{rec['profile']}@{rec['environment']['machine_class']}/{rec['workload_hash'][:8]}"


def history_series(history: list[RunRecord], current: RunRecord, metrics=HISTORY_METRICS) -> dict:
    """Trend data: the history records comparable with the current run, in the order given.

    Returns {"points": [{index, run_id, label, date, status, is_current}], "series":
    {metric: [value or nan]}, "units": {metric: unit}, "skipped": n, "context": str}.
    ``index`` is the record's position in ``history`` as given.
    """
    context = history_context(current)
    keep = [(i, r) for i, r in enumerate(history) if history_context(r) == context]
    series: dict[str, list[float]] = {m: [] for m in metrics}
    points, units = [], {}
    for i, rec in keep:
        by = recmod.by_name(rec) if rec.get("measurements") else {}
        points.append({"index": i, "run_id": rec["run_id"], "label": commit_label(rec),
                       "date": rec["started_at"][:10], "status": rec.get("status"),
                       "is_current": rec["run_id"] == current["run_id"]})
        for m in metrics:
            series[m].append(by[m]["value"] if m in by and rec.get("status") == "ok" else math.nan)
            if m in by:
                units[m] = by[m]["unit"]
    return {"points": points, "series": series, "units": units, "skipped": len(history) - len(keep),
            "context": context, "profile": current["profile"],
            "machine": current["environment"]["machine_class"]}


def commit_label(rec: RunRecord) -> str:
    """``3f2a9c1`` (``+`` when the tree had uncommitted changes) over the start time, for a trend's x axis."""
    git = rec["environment"].get("git") or {}
    when = rec["started_at"][5:16].replace("T", " ")
    commit = git.get("commit")
    return f"{commit[:7]}{'+' if git.get('dirty') else ''}\n{when}" if commit else when


def changepoint_rows(changepoints, trend: dict) -> list[dict]:
    """Change points of the trend's context, each placed at ``position`` on it (None: not shown).

    Accepts ``harness.judge.changepoints.ChangePoint`` objects (placed by the run id in
    ``label_after``) and dicts {metric, run_id or index, commit_range, size_pct}, where
    ``index`` is a position in the history as passed to the report. Change points of other
    contexts (profile, machine, workload) are left out.
    """
    by_run = {p["run_id"]: n for n, p in enumerate(trend["points"])}
    by_index = {p["index"]: n for n, p in enumerate(trend["points"])}
    rows = []
    for cp in changepoints or ():
        context = _get(cp, "context")
        if context and context != trend["context"]:
            continue
        run_id = _get(cp, "run_id") or (str(_get(cp, "label_after") or "").split(" ")[0] or None)
        position = by_run.get(run_id) if run_id else by_index.get(_get(cp, "index"))
        commit_range = _get(cp, "commit_range")
        if isinstance(commit_range, (list, tuple)):
            commit_range = "..".join(str(c)[:8] if c else "?" for c in commit_range)
        size = _get(cp, "size_pct")
        rows.append({"metric": _get(cp, "metric"), "position": position, "run_id": run_id,
                     "index": _get(cp, "index"), "commit_range": commit_range,
                     "size_pct": size if size is not None else _get(cp, "step_pct"),
                     "direction": _get(cp, "direction"), "latest": _get(cp, "latest")})
    return rows
