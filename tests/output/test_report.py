"""The HTML report, checked structurally on real run records (tests/data/report, written by
tests/data/make_fixtures.py from smoke runs: three plain runs are the baseline, a fourth with a
slowed train stage and memory ballast is the current run)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.documents import baseline as baselinemod
from harness.documents import record
from harness.judge import stats
from harness.judge.compare import compare
from harness.output import formatters
from harness.output.report import _data, build_report, charts, render_html
from harness.output.report._load import find_changepoints, load_history

DATA = Path(__file__).parents[1] / "data" / "report"
SECTIONS = ("verdict", "quality", "time", "memory", "history", "environment", "configuration")
CHARTS = ("chart-quality", "chart-stages", "chart-memory", "chart-history")
SIZE_LIMIT_BYTES = 5 * 2**20  # issue #5: the ci report stays under 5 MB
PROFILE = json.loads((DATA.parent / "profile" / "profile.json").read_text())  # its folded paths: from tests/data


@functools.lru_cache(maxsize=1)
def _stored() -> tuple[dict, dict, list[dict]]:
    if not (DATA / "current.json").is_file():
        pytest.fail(f"no report fixtures in {DATA}: run `.venv/bin/python tests/data/make_fixtures.py`")
    return (record.load(DATA / "current.json"), baselinemod.load(DATA / "baseline.json"),
            load_history(DATA / "history"))


def stored() -> tuple[dict, dict, list[dict]]:
    """Fresh copies of (current run, baseline document, history records)."""
    return copy.deepcopy(_stored())


def judge(current: dict, baseline: dict):
    return compare(current, baseline, baseline_path=str(DATA / "baseline.json"))


def build_fixture_report(out: Path) -> Path:
    """The full report of the fixtures, with the differential profile of tests/data/profile (also used by the
    browser test)."""
    current, baseline, history = stored()
    return build_report([current], out, verdict=judge(current, baseline), baseline=baseline, history=history,
                        changepoints=find_changepoints(history, current), profile=PROFILE, verdict_dir=DATA.parent)


class Page(HTMLParser):
    """What the tests look at in a page: tags, ids, sections, verdict rows and their text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.ids, self.sections, self.rows = [], [], [], []
        self._row = None
        self._in_verdicts = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "table" and "verdicts" in (a.get("class") or ""):
            self._in_verdicts += 1
        if tag == "tr" and self._in_verdicts and (a.get("class") or "").startswith("v-"):
            self._row = {"verdict": a["class"][2:], "cells": [], "text": ""}
        if tag == "td" and self._row is not None:
            self._row["cells"].append("")

    def handle_endtag(self, tag):
        if tag == "table" and self._in_verdicts:
            self._in_verdicts -= 1
        if tag == "tr" and self._row is not None:
            self._row["cells"] = [c.strip() for c in self._row["cells"]]
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data
            self._row["text"] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = build_fixture_report(tmp_path_factory.mktemp("report") / "index.html")
    html = out.read_text()
    return {"path": out, "html": html, "page": Page(html)}


def test_every_section_is_present_in_order(report):
    assert report["page"].sections == list(SECTIONS)


def test_every_chart_is_inline_svg(report):
    for chart in CHARTS:
        assert chart in report["page"].ids
    assert report["html"].count('<svg class="chart"') == len(CHARTS)


def test_no_scripts_and_nothing_fetched(report):
    tags = {t for t, _ in report["page"].tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    for tag, attrs in report["page"].tags:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value:
                assert value.startswith("#"), (tag, name, value)  # in-page anchors only


def test_a_row_for_every_measurement_of_the_verdict(report):
    current, baseline, _ = stored()
    verdict = judge(current, baseline)
    names = [row["cells"][1] for row in report["page"].rows]
    assert sorted(names) == sorted(m.name for m in verdict.measurements)
    assert {row["verdict"] for row in report["page"].rows} == {m.verdict for m in verdict.measurements}


def test_the_planted_regressions_lead_the_table(report):
    verdicts = [row["verdict"] for row in report["page"].rows]
    assert "regressed" in verdicts, "the faulted fixture run should regress (its learning rate is tiny)"
    first_other = next(i for i, v in enumerate(verdicts) if v != "regressed")
    assert "regressed" not in verdicts[first_other:]
    names = [row["cells"][1] for row in report["page"].rows if row["verdict"] == "regressed"]
    assert "quality.final_train_loss" in names


def test_regressions_lead_whatever_order_the_verdict_has(tmp_path):
    current, baseline, _ = stored()
    verdict = judge(current, baseline)
    shuffled = dataclasses.replace(verdict, measurements=tuple(reversed(verdict.measurements)))
    rows = Page(render_html([current], verdict=shuffled, baseline=baseline)).rows
    verdicts = [r["verdict"] for r in rows]
    assert verdicts.index("ok") > max(i for i, v in enumerate(verdicts) if v == "regressed")


def test_verdicts_read_without_colour(report):
    marks = _data.VERDICT_MARKS
    for row in report["page"].rows:
        assert f"{marks[row['verdict']]} {row['verdict']}" in row["cells"][0]
    headline = report["html"].split('class="headline', 1)[1].split("</p>", 1)[0]
    assert "✗ REGRESSED" in headline


def test_markdown_summary_is_the_formatters_markdown(report):
    current, baseline, _ = stored()
    summary = report["path"].with_name("summary.md").read_text()
    assert summary == formatters.markdown(judge(current, baseline), report_url="index.html", profile=PROFILE)


def test_report_stays_under_the_size_limit_with_long_timelines_and_history(tmp_path, report):
    current, baseline, history = stored()
    for rec in (current, baseline["record"]):
        rec["timeline"] = _stretched(rec["timeline"], 200_000)
    history = [_renamed(history[i % len(history)], i) for i in range(120)] + [current]
    out = build_report([current], tmp_path / "index.html", verdict=judge(current, baseline), baseline=baseline,
                       history=history)
    assert out.stat().st_size < SIZE_LIMIT_BYTES
    assert out.stat().st_size < 2 * report["path"].stat().st_size  # timelines downsampled, not inlined


def _stretched(timeline: dict, n: int) -> dict:
    """The real timeline interpolated onto n points (a long run's worth of samples)."""
    import numpy as np

    t = np.asarray(timeline["t_s"])
    fine = np.linspace(t[0], t[-1], n)
    return {"t_s": fine.tolist(), "rss_bytes": np.interp(fine, t, timeline["rss_bytes"]).tolist()}


def _renamed(rec: dict, i: int) -> dict:
    rec = copy.deepcopy(rec)
    rec["run_id"] = f"{rec['run_id']}-copy{i}"
    return rec


HOSTILE = "<script>alert(1)</script>"


def test_record_strings_are_rendered_inert(tmp_path):
    current, baseline, history = stored()
    current["environment"]["os"] = HOSTILE
    current["environment"]["packages"]["torch"] = '"><img src=x onerror=alert(2)>'
    current["run_id"] = HOSTILE
    current["stages"][2]["name"] = r"<img src=x onerror=alert(3)> $\notacommand$"  # and no mathtext
    current["days"][0]["metrics"][HOSTILE] = 0.5
    current["measurements"].append(record.measurement("etl.wall_s", 1.0) | {"name": f"{HOSTILE}.wall_s"})
    current["config"]["profile"] = HOSTILE
    current["faults"][HOSTILE] = "$x$ </style><script>alert(4)</script>"
    verdict = judge(current, baseline)
    html = build_report([current], tmp_path / "index.html", verdict=verdict, baseline=baseline,
                        history=[*history, current]).read_text()
    page = Page(html)
    assert {t for t, _ in page.tags}.isdisjoint({"script", "img"})
    assert not [name for _, attrs in page.tags for name, _ in attrs if name.startswith("on")]
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"{HOSTILE}.wall_s" in [row["cells"][1] for row in page.rows]  # shown, as text


def test_environment_differences_are_highlighted(tmp_path):
    current, baseline, _ = stored()
    baseline["record"]["environment"]["packages"]["torch"] = "0.0.0-baseline"
    html = render_html([current], verdict=judge(current, baseline), baseline=baseline)
    env = html.split('id="environment"', 1)[1].split("</section>", 1)[0]
    rows = [row for row in env.split("<tr")[1:] if 'class="changed"' in row]
    assert len(rows) == 1 and "packages.torch" in rows[0] and "≠ changed" in rows[0]
    assert "0.0.0-baseline" in rows[0] and current["environment"]["packages"]["torch"] in rows[0]
    fields = [f for f in env.split("<div")[1:] if 'class="changed"' in f]
    assert len(fields) == 1 and "packages.torch" in fields[0]


def test_change_points_are_marked_with_their_commits(tmp_path):
    current, baseline, history = stored()
    before, after = history[-2], history[-1]
    step = stats.change_pct(record.by_name(before)["train.wall_s"]["value"],
                            record.by_name(after)["train.wall_s"]["value"])
    cps = [{"metric": "total.wall_s", "run_id": after["run_id"], "commit_range": "aaaaaaa1..bbbbbbb2",
            "size_pct": step}]
    html = render_html([current], verdict=judge(current, baseline), baseline=baseline, history=history,
                       changepoints=cps)
    section = html.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert "aaaaaaa1..bbbbbbb2" in section and after["run_id"] in section
    assert formatters.signed_pct(step) in section
    assert f"{step:+.1f}%" in section  # the label on the trend chart


def test_change_points_from_the_detector_are_accepted():
    current, _, history = stored()
    from harness.judge.changepoints import ChangePoint

    after = history[-1]
    cp = ChangePoint(metric="total.wall_s", context=_data.history_context(current), unit="s", index=3,
                     before=1.0, after=2.0, step_pct=100.0, direction="regressed", commit_before="a" * 40,
                     commit_after="b" * 40, label_before="x", label_after=f"{after['run_id']} (faults)",
                     latest=True)
    elsewhere = dataclasses.replace(cp, context="history:other@machine/00000000")
    rows = _data.changepoint_rows([cp, elsewhere], _data.history_series(history, current))
    assert len(rows) == 1
    assert rows[0]["position"] == len(history) - 1 and rows[0]["commit_range"] == "aaaaaaaa..bbbbbbbb"


def test_without_changepoint_module_the_history_still_renders(tmp_path):
    current, baseline, history = stored()
    html = render_html([current], verdict=judge(current, baseline), baseline=baseline, history=history,
                       changepoints=None)
    assert 'id="chart-history"' in html


def test_without_baseline_the_run_alone_is_shown(tmp_path):
    current, _, _ = stored()
    out = build_report([current], tmp_path / "index.html")
    html = out.read_text()
    assert "NO BASELINE" in html and "quality.ndcg_at_20" in html
    assert "no baseline" in out.with_name("summary.md").read_text()


def test_a_failed_run_gets_a_banner_and_still_renders(tmp_path):
    current, baseline, _ = stored()
    current["status"] = "failed"
    current["failure"] = {"stage": "train", "kind": "nan_loss", "message": "training loss is nan on day 2"}
    current["days"] = current["days"][:1]
    current["measurements"] = [m for m in current["measurements"] if not m["name"].startswith("quality.")]
    html = render_html([current], verdict=judge(current, baseline), baseline=baseline)
    assert "run failed in stage <code>train</code> (nan_loss)" in html
    assert "✗ FAILED" in html


def test_the_same_input_gives_the_same_page():
    current, baseline, history = stored()
    pages = [render_html([current], verdict=judge(current, baseline), baseline=baseline, history=history)
             for _ in range(2)]
    assert pages[0] == pages[1]
    ids = Page(pages[0]).ids
    assert len(ids) == len(set(ids)), "inline SVGs must not share element ids"


def test_cli_writes_report_and_summary(tmp_path, capsys):
    from harness import cli

    out = tmp_path / "out" / "index.html"
    code = cli.main(["report", str(DATA / "current.json"), "--baseline", str(DATA / "baseline.json"),
                     "--history", str(DATA / "history"), "-o", str(out)])
    assert code == 0
    assert out.is_file() and out.with_name("summary.md").is_file()
    assert str(out.resolve()) in capsys.readouterr().out


def test_cli_without_run_reports_the_newest_history_record(tmp_path):
    from harness import cli

    _, _, history = stored()
    out = tmp_path / "index.html"
    assert cli.main(["report", "--baseline", str(DATA / "baseline.json"), "--history", str(DATA / "history"),
                     "-o", str(out)]) == 0
    assert history[-1]["run_id"] in out.read_text()


def test_cli_without_any_record_is_a_clear_error(tmp_path, capsys):
    from harness import cli

    assert cli.main(["report", "--history", str(tmp_path / "empty"), "-o", str(tmp_path / "x.html")]) == 2
    assert "no run record given" in capsys.readouterr().err


def test_build_from_files_reuses_a_given_verdict_and_its_baseline(tmp_path):
    """How ``check`` calls it: the record and verdict in hand, the baseline found from the verdict."""
    from harness.output.report import build_from_files

    current, baseline, _ = stored()
    verdict = judge(current, baseline)
    out = build_from_files(tmp_path / "index.html", [current], history_dir=DATA / "history", verdict=verdict)
    assert out.with_name("summary.md").read_text() == formatters.markdown(verdict, report_url="index.html")
    assert 'id="chart-history"' in out.read_text() and "Dashed grey: baseline" in out.read_text()


def test_change_points_are_skipped_when_their_module_is_missing(monkeypatch, capsys):
    import sys

    current, _, history = stored()
    import harness.judge

    for name in ("changepoints", "history"):  # as if the modules were not there: importing them fails
        monkeypatch.setitem(sys.modules, f"harness.judge.{name}", None)
        monkeypatch.delattr(harness.judge, name, raising=False)
    assert find_changepoints(history, current) is None
    assert "change points not shown" in capsys.readouterr().err


def test_gpu_memory_is_drawn_where_recorded():
    current, _, _ = stored()
    tl = current["timeline"]
    current["timeline"] = tl | {"gpu_t_s": tl["t_s"], "gpu_used_bytes": [v / 2 for v in tl["rss_bytes"]]}
    memory = render_html([current]).split('id="chart-memory"', 1)[1].split("</svg>", 1)[0]
    assert "GPU memory used (NVML)" in memory
    assert "GPU memory used" not in render_html(stored()[:1]).split('id="chart-memory"', 1)[1]


def test_several_runs_are_pooled_and_each_drawn():
    _, _, history = stored()
    plain = [r for r in history if not r["faults"]]
    html = render_html(plain)
    assert f"{len(plain)} runs pooled" in html
    quality = html.split('id="chart-quality"', 1)[1].split("</svg>", 1)[0]
    assert all(r["run_id"] in quality for r in plain)


def test_pooling_runs_of_different_workloads_is_refused():
    from harness.errors import HarnessError

    current, _, history = stored()
    other = copy.deepcopy(current) | {"workload_hash": "0" * 16}
    with pytest.raises(HarnessError, match="different workloads"):
        _data.current_record([current, other])


# ---- pure helpers ------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, text", [
    (1.5 * 2**30, "bytes", "1.5 GiB"), (300 * 2**20, "bytes", "300 MiB"), (0.0123, "s", "12.3 ms"),
    (12.34, "s", "12.3 s"), (13_761.9, "rows/s", "13.8k rows/s"), (None, "s", "–"), (0.08211, "1", "0.08211"),
])
def test_human_values(value, unit, text):
    from harness.output import formatters

    assert formatters.value(value, unit, "compact") == text


def test_per_day_stages_are_named_by_their_day():
    current, _, _ = stored()
    labels = [label for label, _, _ in charts.stage_spans(current)]
    days = current["days"]
    assert f"train d{days[0]['train_day']}" in labels and f"eval d{days[-1]['eval_day']}" in labels
    assert len(labels) == len(current["stages"])


def test_history_keeps_only_comparable_runs_in_the_given_order():
    current, _, history = stored()
    other = copy.deepcopy(history[0]) | {"profile": "ci", "run_id": "other-profile"}
    trend = _data.history_series([other, *history], current)
    assert [p["run_id"] for p in trend["points"]] == [r["run_id"] for r in history]
    assert [p["index"] for p in trend["points"]] == list(range(1, len(history) + 1))
    assert trend["skipped"] == 1
    assert trend["points"][-1]["is_current"]


def test_baseline_spread_covers_the_last_day_from_seed_spread():
    _, baseline, _ = stored()
    rec = baseline["record"]
    ndcg = record.by_name(rec)["quality.ndcg_at_20"]["value"]
    baseline["seed_spread"] = {"seeds": [1, 2], "samples": {"quality.ndcg_at_20": [ndcg * 0.9, ndcg * 1.1]}}
    spread = _data.baseline_spread(baseline)
    low, high = spread["ndcg_at_20"][rec["days"][-1]["eval_day"]]
    assert low == pytest.approx(ndcg * 0.9) and high == pytest.approx(ndcg * 1.1)


def test_fixture_files_are_current_records():
    """The stored fixtures load with today's schema (else: re-run make_fixtures.py)."""
    current, baseline, history = stored()
    assert current["faults"] and not baseline["record"]["faults"]
    assert len(history) >= 4 and json.dumps(current)


def _meta(html: str) -> str:
    """The text of the header's meta line (tags dropped, whitespace collapsed)."""
    import re

    meta = html.split('<p class="meta">', 1)[1].split("</p>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", "", meta).split())


@pytest.mark.parametrize("backend", ["pandas", "cudf"])
def test_the_header_names_the_device_and_the_etl_backend(backend):
    current, baseline, _ = stored()
    current["etl_backend"] = backend
    meta = _meta(render_html([current], verdict=judge(current, baseline), baseline=baseline))
    assert f"device {current['config']['device']} · ETL backend {backend} ·" in meta


def test_a_record_without_etl_backend_names_none():
    current, baseline, _ = stored()
    current.pop("etl_backend", None)  # as an older record
    html = render_html([current], verdict=judge(current, baseline), baseline=baseline)
    assert "ETL backend" not in _meta(html) and "etl_backend" not in html


def test_the_summary_without_a_baseline_names_the_etl_backend(tmp_path):
    current, _, _ = stored()
    current["etl_backend"] = "pandas"
    out = build_report([current], tmp_path / "index.html")
    assert f"(profile `{current['profile']}`, etl_backend `pandas`, status ok)" in out.with_name("summary.md").read_text()
