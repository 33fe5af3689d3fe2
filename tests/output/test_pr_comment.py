"""The pull-request markdown (harness/output/pr_comment.py) of a regressed check and of an unchanged one, against
stored expected files, and what each part of it says.

The verdicts are judged by harness.judge.compare from seeded records (tests/verdict_fixtures.py) with an
in-session reference, as `check` judges them; the regressed one has the three arms (a code change in a changed
environment) and the differential profile of tests/data/profile. After an intended change of the output,
regenerate the files and review the diff:
    UPDATE_EXPECTED=1 .venv/bin/pytest tests/output/test_pr_comment.py
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from verdict_fixtures import environment, make_baseline, make_record

from harness.judge.compare import compare
from harness.output import digest, formatters, pr_comment

DATA = Path(__file__).parents[1] / "data"
PROFILE = json.loads((DATA / "profile" / "profile.json").read_text())
CHANGED = [("transformers4rec", "23.12.0", "23.12.0.post1")]
URL = "https://github.com/o/r/actions/runs/1#artifacts"
PRIMARY = "total.cpu_s"


def _arms(ref: dict, cross: dict | None, stopped: str) -> dict:
    prov = {"commit": "a" * 40, "runs": ref["repeat"], "paired": True, "environment": "a cached environment",
            "how": "re-run in this session in crossover pairs with the current runs", "arms": 2 + bool(cross),
            "stopped": stopped}
    return {"record": ref, "provenance": prov, "cross": cross, "changed": CHANGED if cross else [],
            "code_range": "aaaaaaa..bbbbbbb"}


def regressed_verdict():
    """Training 30% slower and ETL 20% faster in the current code, in a changed environment, 8 noisy pairs."""
    stored, changed = make_baseline(), environment(**{"packages.transformers4rec": "23.12.0.post1"})
    rounds = lambda seed, **kw: make_record(seed=seed, repeat=8, noise=0.05, **kw)  # noqa: E731
    current = rounds(3, slow={"train": 1.3, "etl": 0.8}, environment_=changed)
    arms = _arms(rounds(1), rounds(2, environment_=changed), "ran all 8 pairs")
    return compare(current, stored, reference=arms, baseline_path="baselines/cpu-2c-x86_64/ci.json")


def unchanged_verdict():
    """The same code in the same environment, 12 quiet pairs with the reference."""
    stored = make_baseline()
    rounds = lambda seed: make_record(seed=seed, repeat=12, noise=0.02)  # noqa: E731
    return compare(rounds(3), stored, reference=_arms(rounds(1), None, "every measurement decided after 12 pairs"),
                   baseline_path="baselines/cpu-2c-x86_64/ci.json")


@pytest.fixture(scope="module")
def regressed():
    return regressed_verdict()


@pytest.fixture(scope="module")
def unchanged():
    return unchanged_verdict()


def _matches(text: str, name: str) -> None:
    path = DATA / name
    if os.environ.get("UPDATE_EXPECTED"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_regressed_check_matches_the_stored_file(regressed):
    assert regressed.overall == "regressed"
    _matches(pr_comment.render(regressed, primary=PRIMARY, report_url=URL, profile=PROFILE), "pr_comment_regressed.md")


def test_the_unchanged_check_matches_the_stored_file(unchanged):
    assert unchanged.overall == "ok"
    _matches(pr_comment.render(unchanged, primary=PRIMARY, report_url=URL), "pr_comment_unchanged.md")


def test_the_parts_come_in_the_order_a_reviewer_reads_them(regressed):
    text = pr_comment.render(regressed, primary=PRIMARY, report_url=URL, profile=PROFILE)
    marks = ["t4rec-bench: regressed (exit 1)", "#### What moved", "#### Where the time went", "#### Undecided",
             f"[{URL}]({URL})", "<details>"]
    at = [text.index(m) for m in marks]
    assert at == sorted(at)
    assert text.count("<details>") == 1 and text.rstrip().endswith("</details>")


def test_the_headline_leads_with_the_primary_its_interval_the_pairs_and_the_commit(regressed):
    m = next(m for m in regressed.measurements if m.name == PRIMARY)
    line = pr_comment.render(regressed, primary=PRIMARY).splitlines()[2]
    assert line.startswith(f"**`{PRIMARY}` {formatters.signed_pct(m.change_pct)}**")
    assert formatters.ci(m.ci_low_pct, m.ci_high_pct, m.confidence) in line
    assert "8 pairs with the in-session reference, commit `aaaaaaaaaa`" in line


def test_what_moved_names_the_cause_from_the_arms(regressed):
    moved = pr_comment.render(regressed, primary=PRIMARY).split("#### What moved", 1)[1].split("####", 1)[0]
    train = next(line for line in moved.splitlines() if "`train.wall_s`" in line)
    assert "regressed" in train and "code: aaaaaaa..bbbbbbb" in train
    improved = [m.name for m in regressed.measurements if m.verdict == "improved"]
    assert improved and all(f"`{n}`" in moved for n in improved)
    assert "ok |" not in moved  # the quiet rows stay in the folded table


def test_undecided_rows_say_what_their_interval_rules_out(regressed):
    rows = [m for m in regressed.measurements if m.verdict == "undecided"]
    assert rows
    part = pr_comment.render(regressed, primary=PRIMARY).split("#### Undecided", 1)[1].split("<details>", 1)[0]
    for m in rows:
        worse = m.ci_low_pct if m.higher_is_better else m.ci_high_pct
        assert f"worse than {formatters.signed_pct(worse)}" in part


def test_a_skipped_profile_says_why_and_an_absent_one_says_nothing(unchanged):
    skipped = {**PROFILE, "skipped": "py-spy is not installed", "stages": []}
    assert "No profile: py-spy is not installed" in pr_comment.render(unchanged, profile=skipped)
    plain = pr_comment.render(unchanged)
    assert "profile:" not in plain.lower() and "Where the time went" not in plain


def test_the_profile_is_read_from_the_verdict_document_or_object(regressed):
    doc = {**regressed.to_dict(), "profile_diff": PROFILE}
    assert digest.profile_of(doc) == PROFILE
    assert digest.profile_of(dataclasses.replace(regressed, profile_diff=PROFILE)) == PROFILE
    assert digest.profile_of(regressed) is None  # "profile" is the workload's name: never read as one
    assert digest.profile_of({**doc, "profile_diff": None, "profile": PROFILE}) is None
    assert digest.profile_name(doc) == regressed.profile


def test_no_report_url_no_link(unchanged):
    assert "HTML report" not in pr_comment.render(unchanged)


def test_a_comment_too_long_for_github_drops_the_reasons_first(regressed, monkeypatch):
    full = pr_comment.render(regressed, primary=PRIMARY)
    monkeypatch.setattr(pr_comment, "COMMENT_LIMIT", len(full) - 1)
    short = pr_comment.render(regressed, primary=PRIMARY)
    assert len(short) < len(full) and "| Why |" not in short and "<details>" in short


def test_markdown_is_the_pr_comment():
    verdict = regressed_verdict()
    assert formatters.markdown(verdict, primary=PRIMARY) == pr_comment.render(verdict, primary=PRIMARY)


def test_the_terminal_table_lists_the_profile_when_the_verdict_has_one(regressed):
    with_profile = formatters.table(dataclasses.replace(regressed, profile_diff=PROFILE))
    assert "profile of train (py-spy 0.4.1): 11.9 s against 10.1 s in the reference" in with_profile
    assert "  +2.1 s  _planted_slowdown  harness/pipeline/chain.py:30" in with_profile
    skipped = dataclasses.replace(regressed, profile_diff={**PROFILE, "skipped": "py-spy failed: exit 1"})
    assert "no profile: py-spy failed: exit 1" in formatters.table(skipped)
    plain = formatters.table(regressed)
    assert "profile of" not in plain and "no profile" not in plain


def test_without_a_baseline_the_missing_measurements_are_one_line():
    from harness.judge.compare import no_baseline

    verdict = no_baseline(make_record(seed=1), "baselines/m/ci.json", "no baseline file")
    text = pr_comment.render(verdict, primary=PRIMARY)
    moved = text.split("#### What moved", 1)[1].split("<details>", 1)[0]
    assert "Nothing could be compared." in moved
    (line,) = [x for x in moved.splitlines() if x.startswith("- ")]
    more = len(verdict.measurements) - digest.SHOWN_NAMES
    assert line.startswith("- ❔ missing: `") and line.endswith(f" and {more} more: no baseline file")
