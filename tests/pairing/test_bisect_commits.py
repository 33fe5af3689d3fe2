"""The search of `t4rec-bench bisect` (harness/pairing/bisect_commits.py) on a fake duel over lists of commits:
each commit adds a known percent to the measurement, and a duel of two commits sees the sum in between."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.pairing import bisect_commits as bc

GOOD = "g" * 40
COMMITS = [f"{i}" * 40 for i in range(1, 9)]  # c1..c8 after GOOD, c8 = BAD


class FakeDuel:
    """regressed from 5% on, ok below 2%, undecided between; the interval +-1%; ``skip``: commits that fail."""

    def __init__(self, costs: dict[int, float], skip=(), undecided_band=(2.0, 5.0)):
        self.costs, self.skip, self.band, self.calls = costs, {COMMITS[i - 1] for i in skip}, undecided_band, []

    def change(self, commit: str, against: str) -> float:
        line = [GOOD, *COMMITS]
        a, b = line.index(against), line.index(commit)
        return sum(self.costs.get(i, 0.0) for i in range(a + 1, b + 1))

    def __call__(self, commit: str, against: str) -> bc.Judged:
        self.calls.append((commit, against))
        if commit in self.skip:
            return bc.Judged(bc.SKIP, words="does not build")
        x = self.change(commit, against)
        state = bc.REGRESSED if x >= self.band[1] else bc.OK if x < self.band[0] else bc.UNDECIDED
        return bc.Judged(state, x, x - 1, x + 1, 3, False, f"{x:+.1f}%")


@pytest.mark.parametrize("at", [1, 4, 5, 8])
def test_the_culprit_is_named_first_middle_or_last(at):
    duel = FakeDuel({at: 20.0})
    out = bc.bisect(GOOD, COMMITS, duel)
    assert out.outcome == bc.CULPRIT and out.culprit == COMMITS[at - 1] and out.suspects == (out.culprit,)
    assert out.parent == (COMMITS[at - 2] if at > 1 else GOOD)
    assert out.own.state == bc.REGRESSED and out.together == ()
    assert len(out.probes) <= 3  # 8 candidates, the last known bad: at most three halvings
    assert len(duel.calls) == len(set(duel.calls))  # no duel runs twice (the culprit against GOOD is reused)


def test_every_step_duels_a_midpoint_against_good_and_says_how_many_are_left():
    lines = []
    out = bc.bisect(GOOD, COMMITS, FakeDuel({6: 20.0}), lines.append)
    assert all(s.against == GOOD for s in out.probes)
    assert [s.left for s in out.probes] == [8, 4, 2]
    assert any("8 candidates left" in line for line in lines)


def test_a_commit_that_does_not_run_is_skipped_and_a_neighbour_tried():
    duel = FakeDuel({6: 20.0}, skip=[4])
    out = bc.bisect(GOOD, COMMITS, duel)
    assert out.culprit == COMMITS[5]
    assert [s.judged.state for s in out.probes][0] == bc.SKIP and out.probes[1].commit == COMMITS[4]


def test_when_only_skipped_commits_are_left_the_first_bad_is_among_them():
    out = bc.bisect(GOOD, COMMITS, FakeDuel({5: 20.0}, skip=[4, 5]))
    assert out.outcome == bc.SKIPPED and out.culprit is None
    assert out.suspects == tuple(COMMITS[3:6])  # c4, c5 skipped; c6 regressed; c3 was ok


def test_an_undecided_step_stops_the_search_and_names_where():
    out = bc.bisect(GOOD, COMMITS, FakeDuel({3: 3.0, 7: 20.0}))  # c4 sees +3%: neither ok nor a regression
    assert out.outcome == bc.UNDECIDED_OUTCOME and out.undecided_at == COMMITS[3]
    assert out.suspects == tuple(COMMITS)  # nothing ruled out yet: c1..c8


def test_two_commits_together_are_named_as_a_range():
    duel = FakeDuel({2: 3.0, 5: 3.0}, undecided_band=(5.0, 5.0))  # each +3% alone (ok), +6% together
    out = bc.bisect(GOOD, COMMITS, duel)
    assert out.outcome == bc.CULPRIT and out.culprit == COMMITS[4]
    assert out.own.state == bc.OK and out.own.change_pct == 3.0  # its own +3% is ruled out as a regression
    assert out.together == tuple(COMMITS[:5])  # the commits after GOOD up to the culprit


def test_a_culprit_that_later_commits_add_to_names_the_range_up_to_bad():
    out = bc.bisect(GOOD, COMMITS, FakeDuel({1: 6.0, 7: 6.0}))
    assert out.culprit == COMMITS[0] and out.total.change_pct == 12.0
    assert out.together == tuple(COMMITS)  # its own +6% is clearly below GOOD -> BAD's +12%


def test_no_regression_between_good_and_bad_is_nothing_to_bisect():
    duel = FakeDuel({})
    out = bc.bisect(GOOD, COMMITS, duel)
    assert out.outcome == bc.NO_REGRESSION and out.probes == () and duel.calls == [(COMMITS[-1], GOOD)]
    out = bc.bisect(GOOD, COMMITS, FakeDuel({8: 3.0}))
    assert out.outcome == bc.UNDECIDED_OUTCOME and out.undecided_at == COMMITS[-1]


def test_a_bad_that_does_not_run_is_an_error():
    with pytest.raises(HarnessError, match="cannot be bisected to") as exc:
        bc.bisect(GOOD, COMMITS, FakeDuel({8: 20.0}, skip=[8]))
    assert exc.value.exit_code == 4


def test_one_commit_needs_no_step():
    out = bc.bisect(GOOD, COMMITS[:1], FakeDuel({1: 20.0}))
    assert out.culprit == COMMITS[0] and out.probes == () and out.own.change_pct == 20.0


@pytest.mark.parametrize("lo, hi, skipped, expected", [(0, 8, set(), 4), (0, 8, {4}, 5), (0, 8, {4, 5}, 3),
                                                       (3, 5, {3, 4}, None), (0, 1, set(), 0)])
def test_pick_prefers_the_midpoint_then_its_nearest_untested_neighbour(lo, hi, skipped, expected):
    assert bc.pick(lo, hi, skipped) == expected


def test_clearly_smaller_follows_the_direction_of_the_measurement():
    total = bc.Judged(bc.REGRESSED, 10.0, 8.0, 12.0)
    assert bc.clearly_smaller(bc.Judged(bc.UNDECIDED, 4.0, 2.0, 7.0), total)
    assert not bc.clearly_smaller(bc.Judged(bc.REGRESSED, 9.0, 7.0, 11.0), total)
    assert bc.clearly_smaller(bc.Judged(bc.OK, 1.0, -1.0, 2.0), total)
    worse_down = bc.Judged(bc.REGRESSED, -10.0, -12.0, -8.0, higher_is_better=True)  # a throughput fell
    assert bc.clearly_smaller(bc.Judged(bc.UNDECIDED, -4.0, -7.0, -2.0, higher_is_better=True), worse_down)
    assert not bc.clearly_smaller(bc.Judged(bc.REGRESSED, -9.0, -11.0, -7.0, higher_is_better=True), worse_down)
