"""The launch barrier (harness/run/barrier.py): the sides of a pair start their first stage together."""

from __future__ import annotations

import os
import threading
import time

from harness import REPO_DIR
from harness.pairing import reference, together
from harness.run import barrier


def _env(folder, parties, timeout_s):
    return {barrier.ENV: barrier.spec(folder, parties, timeout_s)}


def test_no_barrier_set_returns_at_once():
    t0 = time.monotonic()
    assert barrier.wait_from_env({}) is None
    assert time.monotonic() - t0 < 0.1


def test_the_early_side_waits_for_the_late_one(tmp_path):
    env, released, late_arrival = _env(tmp_path, 2, 30), {}, {}

    def side(name, delay):
        time.sleep(delay)
        if delay:
            late_arrival[name] = time.monotonic()
        released[name] = (barrier.wait_from_env(env, name), time.monotonic())

    threads = [threading.Thread(target=side, args=("a", 0.0)), threading.Thread(target=side, args=("b", 0.4))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert released["a"][0] is None and released["b"][0] is None  # both joined: no note
    assert released["a"][1] >= late_arrival["b"]  # the early side left only after the late one arrived


def test_a_side_whose_partner_never_arrives_starts_alone_and_says_so(tmp_path):
    t0 = time.monotonic()
    note = barrier.wait_from_env(_env(tmp_path, 2, 0.3), "a")
    assert time.monotonic() - t0 >= 0.3
    assert note.startswith(barrier.NOTE) and "1 of 2 sides arrived within 0.3 s" in note


def test_the_folder_may_hold_colons(tmp_path):
    folder = tmp_path / "a:b"
    folder.mkdir()
    assert barrier.wait_from_env(_env(folder, 1, 5), "only") is None


def test_an_old_reference_gets_no_barrier_and_the_verdict_says_why(tmp_path):
    old = reference.Arm("reference", reference.Reference("ab" * 20, tmp_path), "python")
    assert not barrier.joinable(tmp_path) and barrier.joinable(REPO_DIR)
    env, launch = together.barrier_env([old], tmp_path / "b0", 2, 60)
    assert env == {} and "predates the launch barrier" in launch["launch"] and not (tmp_path / "b0").exists()
    new = reference.Arm("reference", reference.Reference("cd" * 20, REPO_DIR), "python")
    env, launch = together.barrier_env([new], tmp_path / "b1", 2, 60)
    assert launch == {"launch": "barrier"} and env[barrier.ENV] == f"{tmp_path / 'b1'}:2:60"


def test_launch_words_count_the_pairs_that_met_at_the_barrier():
    assert together.launch_words([{"round": 0}]) is None  # alternating: no pair ran at once
    assert together.launch_words([{"launch": "barrier"}] * 3).endswith("in all 3 pairs")
    words = together.launch_words([{"launch": "barrier"}, {"launch": "apart"}])
    assert "in 1 of 2 pairs" in words and "barrier_timeout_s" in words
    old = "no barrier: the reference code (abcdef0123) predates the launch barrier"
    assert together.launch_words([{"launch": old}] * 2) == old  # none met: just why


def test_each_side_of_each_pair_gets_its_own_launch_pad(tmp_path):
    """The sides' environments differ in size by a random amount, fresh for every side and pair, so that
    where a process's stack begins cannot favour one side (barrier.launch_pad)."""
    seen = []

    class Run:
        config = None

        def __call__(self, side, repeat, place=None, index=0, env=None):
            seen.append((side, env))

    arm = reference.Arm("reference", reference.Reference("cd" * 20, REPO_DIR), "python")
    for i in range(20):
        together.one_round(Run(), i, [["reference", "current"]], 20, "duet", [arm], tmp_path / f"b{i}", None, 60)
    pads = [len(env[barrier.PAD]) for _, env in seen]
    assert all(barrier.ENV in env for _, env in seen)  # the barrier still travels
    assert len(pads) == 40 and max(pads) < os.sysconf("SC_PAGESIZE")
    assert len(set(pads)) > 30  # not one length per side, nor per pair
    by_side = {s: [len(env[barrier.PAD]) for side, env in seen if side == s] for s in ("reference", "current")}
    assert by_side["reference"] != by_side["current"]
