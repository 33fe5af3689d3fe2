"""The differential flame graph (harness/output/report/flame.py) on the folded stacks of tests/data/profile:
known sample counts in, known widths, colours and tooltips out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.output.report import flame

PROFILE = Path(__file__).parents[1] / "data" / "profile"
CURRENT, REFERENCE = (PROFILE / "current.folded").read_text(), (PROFILE / "reference.folded").read_text()
PLANTED = "_planted_slowdown (harness/pipeline/chain.py:30)"


def _frames(svg: str) -> dict[str, dict]:
    """Each drawn frame by its full name: x, width, fill and tooltip."""
    out = {}
    for title, x, width, fill in re.findall(r'<g><title>([^<]*)</title><rect x="([\d.]+)" y="\d+" '
                                            r'width="([\d.]+)" height="\d+" fill="([^"]+)"/>', svg):
        out[title.split("\n")[0]] = {"x": float(x), "width": float(width), "fill": fill, "title": title}
    return out


def test_parse_sums_the_counts_of_each_stack():
    stacks = flame.parse("a;b 3\na;c 2\n\na;b 4\n")
    assert stacks == {("a", "b"): 7, ("a", "c"): 2}


def test_parse_keeps_frames_with_spaces_and_names_a_bad_line():
    assert flame.parse("<module> (x.py:1);f (y.py:2) 5") == {("<module> (x.py:1)", "f (y.py:2)"): 5}
    with pytest.raises(HarnessError, match="line 2"):
        flame.parse("a;b 1\na;b many\n", "current")


def test_merge_counts_both_sides_at_every_frame():
    root = flame.merge(flame.parse(CURRENT), flame.parse(REFERENCE))
    assert (root.current, root.reference) == (1655, 1471)
    run = root.child("<module> (harness/run/worker.py:210)").child("main (harness/run/worker.py:188)") \
        .child("run (harness/pipeline/chain.py:96)")
    train = run.child("train (harness/pipeline/stages/train.py:88)")
    assert (train.current, train.reference) == (1190, 1010)
    assert (train.child(PLANTED).current, train.child(PLANTED).reference) == (210, 0)


def test_widths_are_the_current_samples_and_the_largest_change_is_full_red():
    frames = _frames(flame.svg(CURRENT, REFERENCE, 100))
    assert frames["all"]["width"] == flame.WIDTH
    assert frames[PLANTED]["width"] == pytest.approx(210 / 1655 * flame.WIDTH, abs=0.1)
    assert frames[PLANTED]["fill"] == "rgb({},{},{})".format(*flame.WORSE)  # +210 samples: the largest change
    assert "+2.1 s" in frames[PLANTED]["title"] and "reference 0 s (0.0%)" in frames[PLANTED]["title"]


def test_less_time_is_blue_and_a_frame_only_the_reference_reaches_is_not_drawn():
    frames = _frames(flame.svg(CURRENT, REFERENCE, 100))
    hf_train = frames["train (transformers/trainer.py:1555)"]  # 980 samples against 1010
    r, g, b = map(int, re.findall(r"\d+", hf_train["fill"]))
    assert b > r and "-0.3 s" in hf_train["title"]
    assert not any(name.startswith("_maybe_log_save_evaluate") for name in frames)


def test_without_a_rate_the_tooltips_count_samples():
    frames = _frames(flame.svg(CURRENT, REFERENCE, None))
    assert "+210 samples" in frames[PLANTED]["title"]


def test_names_are_escaped_and_narrow_frames_left_out():
    svg = flame.svg("<module> (a.py:1);f&g (b.py:2) 5000\n<module> (a.py:1);tiny (c.py:3) 1\n", "<module> (a.py:1) 1\n", 1)
    assert "&lt;module&gt;" in svg and "f&amp;g" in svg and "<module>" not in svg
    assert "tiny" not in svg  # 1 of 5001 samples: a tenth of a unit wide


def test_an_empty_current_profile_is_refused():
    with pytest.raises(HarnessError, match="no samples"):
        flame.svg("", REFERENCE, 100)
