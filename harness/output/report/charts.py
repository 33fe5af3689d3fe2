"""The report's charts: matplotlib figures rendered to inline SVG strings.

Why matplotlib to inline SVG rather than plotly: the page then carries no JavaScript at
all, so it opens from ``file://`` with no network, nothing can fail in the browser console,
and a strict Content-Security-Policy can forbid scripts outright. SVG text stays sharp at
any zoom and can be searched and copied; a chart is tens of kilobytes, which keeps the ci
report far below 5 MB (plotly's own bundle is several megabytes). matplotlib is one optional
dependency (the ``report`` extra), imported only here, only when a report is built.

Each function takes the plain rows and series from ``harness.output.report._data`` and returns
an ``<svg>`` element as a string. Text from records reaches the SVG through matplotlib's
XML writer, which escapes it.
"""

from __future__ import annotations

import functools
import io
import math
import re

from harness.documents.record_types import RunRecord
from harness.measure.meters import downsample
from harness.output.formatters import value

WIDTH_IN = 12.0  # 1152 px at 100% zoom; the page scales charts to its column width
CURRENT, BASELINE, GPU, ALERT = "#1f5fbf", "#7a7a7a", "#2e8b57", "#c0392b"
RUN_COLOURS = ("#1f5fbf", "#e07b00", "#6a3d9a", "#2e8b57", "#b15928")
TIMELINE_POINTS = 800  # per line; the chart is ~1150 px wide
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 10,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": "#e3e3e3",
    "grid.linewidth": 0.8, "axes.axisbelow": True, "svg.fonttype": "none",
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same text metrics everywhere
}
_QUALITY_PANELS = (("ndcg_at_20", "NDCG@20"), ("ndcg_at_40", "NDCG@40"), ("recall_at_20", "Recall@20"),
                   ("recall_at_40", "Recall@40"), ("train_loss", "Training loss"), ("eval_loss", "Eval loss"))
_HISTORY_TITLES = {"total.wall_s": "Total wall time", "train.samples_per_s": "Training throughput",
                   "total.peak_rss_bytes": "Peak host RSS", "quality.ndcg_at_20": "NDCG@20 (last day)",
                   "quality.recall_at_20": "Recall@20 (last day)", "quality.final_train_loss": "Final training loss"}


def text(s) -> str:
    """A record string made safe for matplotlib: no mathtext, no hidden ``_`` legend labels."""
    s = str(s).replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        from harness.errors import HarnessError

        raise HarnessError("the HTML report draws its charts with matplotlib, which is not installed: "
                           "pip install 't4rec-bench[report]'") from None
    return matplotlib


def _pyplot():
    matplotlib = _matplotlib()
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def styled(chart_id: str):
    """Decorator: draw and render inside the report's style. The fixed hash salt makes the SVG
    the same for the same data (matplotlib otherwise salts its ids at random)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _matplotlib().rc_context(STYLE | {"svg.hashsalt": chart_id}):
                return fn(*args, **kwargs)
        return wrapper
    return deco


def figure(height_in: float, **subplots):
    """A new figure of the report's width; ``render`` closes it."""
    fig, axes = _pyplot().subplots(figsize=(WIDTH_IN, height_in), layout="constrained", **subplots)
    return fig, axes


def render(fig, chart_id: str, label: str) -> str:
    """The figure as an ``<svg>`` element with id ``chart-<chart_id>`` (no XML prolog)."""
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        _pyplot().close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, count=1, flags=re.S)
    svg = _TAG.sub(lambda m: _prefix_ids(m.group(0), chart_id), svg)
    aria = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg class="chart" id="chart-{chart_id}" role="img" aria-label="{aria}" ', 1)


_TAG = re.compile(r"<[^<>]+>")  # text content is escaped by matplotlib, so every match is a real tag
_ID_REFS = re.compile(r'(\bid="|\bhref="#|url\(#)')


def _prefix_ids(tag: str, chart_id: str) -> str:
    """Prefix element ids and references to them, so that charts inlined in one page never clash."""
    return _ID_REFS.sub(lambda m: f"{m.group(1)}{chart_id}-", tag)


def _bytes_scale(values) -> tuple[float, str]:
    peak = max((v for v in values if v == v), default=0)
    return (2**30, "GiB") if peak >= 2**30 else (2**20, "MiB")


@styled("quality")
def quality_by_day(runs: list[tuple[str, dict]], base: dict | None, spread: dict) -> str:
    """Per-day NDCG/Recall@20/40 and losses: one line per run, baseline dashed with its spread."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = figure(6.4, nrows=2, ncols=3)
    for ax, (metric, title) in zip(axes.flat, _QUALITY_PANELS, strict=True):
        ax.set_title(title)
        ax.set_xlabel("train day" if metric == "train_loss" else "evaluated day")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _spread_bars(ax, spread.get(metric, {}))
        for n, (label, series) in enumerate(runs):
            if series.get(metric):
                days, values = zip(*series[metric], strict=True)
                ax.plot(days, values, "-o", color=RUN_COLOURS[n % len(RUN_COLOURS)], lw=2.4, ms=7, label=text(label))
        if base and base.get(metric):  # drawn last: a baseline equal to the run still shows, dashed on top
            days, values = zip(*base[metric], strict=True)
            ax.plot(days, values, "--s", color=BASELINE, lw=1.6, ms=4, label="baseline")
        if not ax.lines:
            ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color=BASELINE)
    _legend_once(fig, axes.flat[0])
    return render(fig, "quality", "Ranking quality and loss per day, current against baseline")


def _spread_bars(ax, per_day: dict) -> None:
    days = sorted(d for d, (lo, hi) in per_day.items() if hi > lo)  # a deterministic metric has no spread
    if not days:
        return
    lo = [per_day[d][0] for d in days]
    hi = [per_day[d][1] for d in days]
    mid = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    err = [[m - a for m, a in zip(mid, lo, strict=True)], [b - m for m, b in zip(mid, hi, strict=True)]]
    ax.errorbar(days, mid, yerr=err, fmt="none", ecolor=BASELINE, elinewidth=6, alpha=0.3,
                label="baseline spread")


def _legend_once(fig, ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncols=len(handles))


@styled("stages")
def stage_breakdown(rows: list[dict]) -> str:
    """Wall time per stage (left) and throughput per stage (right), current against baseline."""
    rates = [r for r in rows if r["throughput"]]
    height = max(3.2, 0.42 * len(rows) + 1.4)
    fig, (left, right) = figure(height, ncols=2, width_ratios=(3, 2))
    _hbars(left, [r["stage"] for r in rows], [r["wall_s"] for r in rows], "wall time per stage (s)")
    if rates:
        _hbars(right, [f"{r['stage']} ({r['throughput']['unit']})" for r in rates],
               [r["throughput"] for r in rates], "throughput per stage (log scale)")
        right.set_xscale("log")
    else:
        right.set_axis_off()
    _legend_once(fig, left)
    return render(fig, "stages", "Wall time and throughput per stage, current against what each was judged against")


def _hbars(ax, labels: list[str], pairs: list[dict], title: str) -> None:
    y = list(range(len(labels)))
    cur = [p["current"] or 0 for p in pairs]
    base = [p["baseline"] for p in pairs]
    h = 0.38 if any(b is not None for b in base) else 0.6
    ax.barh([v - h / 2 for v in y], cur, height=h, color=CURRENT, label="current")
    if any(b is not None for b in base):
        judged = {p.get("against", "baseline") for p in pairs if p["baseline"] is not None}
        label = "in-session reference" if judged == {"reference"} else (
            "baseline" if judged == {"baseline"} else "reference or baseline (as judged)")
        ax.barh([v + h / 2 for v in y], [b or 0 for b in base], height=h, color="#c9c9c9", label=label,
                xerr=_whiskers(pairs), error_kw={"ecolor": "#555", "capsize": 2, "lw": 1})
        stored = [(p.get("stored"), yi) for p, yi in zip(pairs, y, strict=True)
                  if p.get("against", "baseline") != "baseline" and p.get("stored") is not None]
        if stored:
            ax.scatter([v for v, _ in stored], [yi + h / 2 for _, yi in stored], marker="|", s=140,
                       color="#555", zorder=3, label="stored baseline (another session)")
    for yi, p in zip(y, pairs, strict=True):
        ax.text(p["current"] or 0, yi - h / 2, "  " + _bar_label(p), va="center", fontsize=8.5,
                color={"regressed": ALERT, "improved": GPU}.get(p["verdict"], "#222"))
    ax.set_yticks(y, [text(s) for s in labels])
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.28)


def _whiskers(pairs: list[dict]) -> list[list[float]]:
    """Distances from each baseline median down to its lowest and up to its highest repetition."""
    low, high = [], []
    for p in pairs:
        mid = p["baseline"] or 0
        low.append(mid - (p["baseline_low"] if p["baseline_low"] is not None else mid))
        high.append((p["baseline_high"] if p["baseline_high"] is not None else mid) - mid)
    return [low, high]


def _bar_label(p: dict) -> str:
    label = value(p["current"], p["unit"], "compact")
    if p["change_pct"] is not None:
        mark = {"regressed": " ✗", "improved": " ▲"}.get(p["verdict"], "")
        label += f"  ({p['change_pct']:+.1f}%{mark})"
    return label


@styled("memory")
def memory_timeline(rec: RunRecord, base: RunRecord | None = None) -> str:
    """Host RSS over the run with stage spans shaded and named; GPU memory where recorded."""
    tl = rec.get("timeline") or {}
    fig, ax = figure(4.6)
    scale, unit = _bytes_scale([*tl.get("rss_bytes", []), *tl.get("gpu_used_bytes", [])])
    _stage_spans(ax, rec)
    if base and (base.get("timeline") or {}).get("t_s"):
        _line(ax, base["timeline"]["t_s"], base["timeline"]["rss_bytes"], scale, BASELINE, "baseline host RSS", "--")
    if tl.get("t_s"):
        _line(ax, tl["t_s"], tl["rss_bytes"], scale, CURRENT, "host RSS", "-")
        _mark_peak(ax, tl["t_s"], tl["rss_bytes"], scale, unit)
    if tl.get("gpu_t_s"):
        _line(ax, tl["gpu_t_s"], tl["gpu_used_bytes"], scale, GPU, "GPU memory used (NVML)", "-")
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.22)  # headroom for the stage names
    ax.legend(loc="lower right")
    return render(fig, "memory", "Host memory over the run, with stage boundaries")


def _line(ax, t, values, scale, colour, label, style) -> None:
    t, values = downsample(list(t), list(values), TIMELINE_POINTS)
    ax.plot(t, [v / scale for v in values], style, color=colour, lw=1.6, label=label)


def _mark_peak(ax, t, values, scale, unit) -> None:
    i = max(range(len(values)), key=values.__getitem__)
    ax.plot([t[i]], [values[i] / scale], "v", color=ALERT, ms=7)
    ax.annotate(f"peak {values[i] / scale:.3g} {unit}", (t[i], values[i] / scale), xytext=(6, 4),
                textcoords="offset points", fontsize=9, color=ALERT)


def stage_spans(rec: RunRecord) -> list[tuple[str, float, float]]:
    """(label, start_s, end_s) per stage entry; per-day stages get their day: ``train d1``."""
    counts: dict[str, int] = {}
    days = rec.get("days") or []
    out = []
    for s in rec.get("stages", []):
        k = counts[s["name"]] = counts.get(s["name"], 0) + 1
        label = s["name"]
        if s["name"] in ("train", "evaluate") and k <= len(days):
            day = days[k - 1]["train_day" if s["name"] == "train" else "eval_day"]
            label = f"{'eval' if s['name'] == 'evaluate' else 'train'} d{day}"
        out.append((label + (" ✗" if s.get("status") == "failed" else ""), s["start_s"], s["end_s"]))
    return out


def _stage_spans(ax, rec: RunRecord) -> None:
    """Shade each stage; name it inside its band (upright when wide, rotated when narrow),
    skipping a name that would overprint the previous one."""
    spans = stage_spans(rec)
    if not spans:
        return
    total = max(end for _, _, end in spans) or 1.0
    last_x = -math.inf
    for n, (label, start, end) in enumerate(spans):
        ax.axvspan(start, end, color="#eef2f8" if n % 2 else "#f4f4ec", lw=0)
        ax.axvline(start, color="#b8b8b8", lw=0.8, ls=":")
        mid, width = (start + end) / 2, (end - start) / total
        if mid - last_x < 0.015 * total:
            continue
        ax.text(mid, 0.985, text(label), transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=8.5, rotation=0 if width > 0.07 else 90, color="#444")
        last_x = mid


@styled("history")
def history_trends(trend: dict, changepoints: list[dict]) -> str:
    """Small multiples of key metrics over the history, change points marked before the run they start at."""
    metrics = [m for m, v in trend["series"].items() if any(x == x for x in v)]
    ncols = 3
    nrows = max(1, math.ceil(len(metrics) / ncols))
    fig, axes = figure(2.9 * nrows + 0.6, nrows=nrows, ncols=ncols, squeeze=False)
    x = list(range(len(trend["points"])))
    labels = [p["label"] for p in trend["points"]]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        _trend_panel(ax, x, trend, metric, [c for c in changepoints if c["metric"] == metric])
        _trend_ticks(ax, x, labels)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_axis_off()
    return render(fig, "history", "Key metrics across the run history, with change points")


def _trend_panel(ax, x, trend, metric, changepoints) -> None:
    unit = trend["units"].get(metric)
    scale, shown = _bytes_scale(trend["series"][metric]) if unit == "bytes" else (1.0, unit)
    values = [v / scale for v in trend["series"][metric]]
    ax.plot(x, values, "-o", color=CURRENT, lw=1.6, ms=4)
    cur = [i for i, p in enumerate(trend["points"]) if p["is_current"]]
    ax.plot(cur, [values[i] for i in cur], "o", mfc="none", mec=ALERT, ms=11, mew=2)
    for cp in changepoints:
        if cp["position"] is not None:
            ax.axvline(cp["position"] - 0.5, color=ALERT, ls="--", lw=1.4)
            size = f"{cp['size_pct']:+.1f}%" if isinstance(cp["size_pct"], (int, float)) else "change"
            ax.text(cp["position"] - 0.55, 0.97, size + " ", transform=ax.get_xaxis_transform(), color=ALERT,
                    fontsize=8.5, ha="right", va="top", fontweight="bold",
                    bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1})
    ax.set_title(text(_HISTORY_TITLES.get(metric, metric)) + (f" ({shown})" if shown and shown != "1" else ""),
                 loc="left")


def _trend_ticks(ax, x, labels) -> None:
    step = max(1, math.ceil(len(x) / 8))
    ticks = x[::step]
    ax.set_xticks(ticks, [text(labels[i]) for i in ticks], rotation=30 if len(ticks) > 4 else 0,
                  ha="right" if len(ticks) > 4 else "center", fontsize=8)
    ax.set_xlim(-0.6, len(x) - 0.4)
