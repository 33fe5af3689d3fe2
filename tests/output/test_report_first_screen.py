"""The report's first screen (harness/output/report/_first.py and page.html.j2): the headline, what moved with
its intervals and cause, the undecided measurements, the differential profile with its flame graph, and the
full table folded below them. Built from the real report fixtures (tests/data/report) and the profile of
tests/data/profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import PROFILE, build_fixture_report, judge, stored

from harness.output import digest, formatters
from harness.output.report import build_report, render_html

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    return build_fixture_report(tmp_path_factory.mktemp("first") / "index.html").read_text()


@pytest.fixture(scope="module")
def verdict():
    current, baseline, _ = stored()
    return judge(current, baseline)


def _between(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def test_the_headline_and_the_answers_come_before_the_full_table(page):
    order = ['class="headline', 'id="moved"', 'id="undecided"', 'id="profile"', 'id="flame-graph"',
             '<details class="all">', '<table class="verdicts">']
    at = [page.index(mark) for mark in order]
    assert at == sorted(at)
    assert page.count('<table class="verdicts">') == 1  # the full table only inside the fold


def test_the_headline_gives_the_primary_its_interval_and_what_it_was_judged_against(page, verdict):
    m = next(m for m in verdict.measurements if m.name == digest.committed_primary())
    headline = _between(page, 'class="headline', "</p>")
    assert f"<code>{m.name}</code>" in headline and formatters.signed_pct(m.change_pct) in headline
    assert formatters.ci(m.ci_low_pct, m.ci_high_pct, m.confidence) in headline
    commit = verdict.baseline_provenance["commit"][:10]
    assert f"judged against the stored baseline, commit <code>{commit}</code>" in headline


def test_what_moved_lists_each_regression_and_improvement_with_its_interval_and_cause(page, verdict):
    moved = _between(page, 'id="moved"', "</table>")
    expected = [m for m in verdict.measurements if m.verdict in ("regressed", "improved")]
    assert expected and moved.count("<tr class=\"v-") == len(expected)
    for m in expected:
        assert f"<code>{m.name}</code>" in moved
        assert formatters.ci(m.ci_low_pct, m.ci_high_pct, m.confidence) in moved
    assert "code (judged against the stored baseline, in the same environment)" in moved


def test_undecided_rows_give_what_they_rule_out(page, verdict):
    part = _between(page, 'id="undecided"', "</table>")
    undecided = [m for m in verdict.measurements if m.verdict == "undecided"]
    assert undecided and part.count('<tr class="v-undecided">') == len(undecided)
    assert all(digest.rules_out(m) in part for m in undecided)


def test_the_profile_shows_its_functions_and_a_flame_graph(page):
    part = _between(page, 'id="profile"', "</figure>")
    assert "<code>_planted_slowdown</code>" in part and "+2.1 s" in part and "0.0% → 17.6%" in part
    assert "11.9 s (1,190 samples) in the current run, 10.1 s (1,010) in the reference" in part
    assert '<svg class="flame" id="flame-graph"' in part and part.count("<rect ") > 10


def test_a_skipped_profile_says_why_and_no_profile_says_nothing(verdict):
    current, baseline, _ = stored()
    skipped = render_html([current], verdict=verdict, baseline=baseline,
                          profile={**PROFILE, "skipped": "py-spy is not installed"})
    assert "No profile: py-spy is not installed" in skipped and "flame-graph" not in skipped
    plain = render_html([current], verdict=verdict, baseline=baseline)
    assert 'id="profile"' not in plain and "No profile" not in plain


def test_the_profile_is_taken_from_a_verdict_document(tmp_path, verdict):
    current, baseline, _ = stored()
    doc = {**verdict.to_dict(), "profile_diff": PROFILE}
    out = build_report([current], tmp_path / "index.html", verdict=doc, baseline=baseline, verdict_dir=DATA)
    assert 'id="flame-graph"' in out.read_text()
    assert "_planted_slowdown" in out.with_name("summary.md").read_text()


def test_a_missing_folded_file_costs_the_flame_graph_only(tmp_path, verdict):
    current, baseline, _ = stored()
    out = build_report([current], tmp_path / "index.html", verdict=verdict, baseline=baseline, profile=PROFILE,
                       verdict_dir=tmp_path)
    html = out.read_text()
    assert "No flame graph: cannot read the current folded stacks" in html and "_planted_slowdown" in html


def test_the_stage_table_keeps_times_and_memory_apart(page):
    time, memory = _between(page, 'id="time"', "</section>"), _between(page, 'id="memory"', "</section>")
    assert "Peak RSS" not in time and "Wall time" in time and "Throughput" in time
    assert "Peak anonymous RSS" in memory and "<code>train</code>" in memory


def test_the_summary_beside_the_page_links_to_it(tmp_path, verdict):
    current, baseline, _ = stored()
    out = build_report([current], tmp_path / "report.html", verdict=verdict, baseline=baseline)
    assert "**HTML report:** [report.html](report.html)" in out.with_name("summary.md").read_text()


def test_the_profile_fixture_agrees_with_its_folded_stacks():
    from harness.output.report import flame

    stacks = flame.parse((DATA / "profile" / "current.folded").read_text())
    train = sum(n for s, n in stacks.items() if "train (harness/pipeline/stages/train.py:88)" in s)
    stage = PROFILE["stages"][0]
    assert train == stage["current"]["samples"] and json.dumps(PROFILE["folded"]).count("profile/") == 2
