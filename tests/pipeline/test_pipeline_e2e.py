"""End-to-end runs of the real pipeline on CPU: determinism, the watchdog, faults (the command line:
tests/commands/test_run_command.py)."""

from __future__ import annotations

import time

import pytest

from harness.config import build_config
from harness.documents import record
from harness.run import runner

pytestmark = pytest.mark.slow


def test_smoke_profile_end_to_end(smoke_record):
    assert smoke_record["status"] == "ok" and smoke_record["failure"] is None
    assert [d["eval_day"] for d in smoke_record["days"]] == [2, 3]


def test_two_fresh_processes_give_identical_metrics_and_fingerprints(smoke_record):
    again = runner.run(build_config("smoke"))
    assert again["fingerprints"] == smoke_record["fingerprints"]
    assert [d["metrics"] for d in again["days"]] == [d["metrics"] for d in smoke_record["days"]]
    assert [d["train_loss"] for d in again["days"]] == [d["train_loss"] for d in smoke_record["days"]]


def test_watchdog_stops_a_hung_stage():
    # the timeout covers every stage, so it must exceed the imports stage (5-10 s here)
    config = build_config("smoke", {"faults.hang_stage": "synthetic", "stage_timeout_s": 20})
    t0 = time.monotonic()
    rec = runner.run(config)
    assert time.monotonic() - t0 < 90
    assert rec["status"] == "failed"
    assert rec["failure"]["stage"] == "synthetic" and rec["failure"]["kind"] == "timeout"
    assert "20 s timeout" in rec["failure"]["message"]
    record.validate(rec)


def test_the_real_dataloader_hang_ends_as_a_failed_train_stage():
    # 20k rows: about 180 training sessions a day, under one batch of 256; with the size
    # check off, the merlin loader blocks forever (stack-facts.md). The watchdog must end it.
    config = build_config("smoke", {"data.rows": 20_000, "train.check_split_sizes": False, "stage_timeout_s": 25})
    rec = runner.run(config)
    assert rec["status"] == "failed"
    assert (rec["failure"]["stage"], rec["failure"]["kind"]) == ("train", "timeout")


def test_small_splits_are_rejected_before_training():
    rec = runner.run(build_config("smoke", {"data.rows": 20_000}))
    assert rec["status"] == "failed"
    assert (rec["failure"]["stage"], rec["failure"]["kind"]) == ("splits", "too_small")
    assert "raise --rows" in rec["failure"]["message"]
    assert not any(s["name"] == "train" for s in rec["stages"])


def test_the_worker_waits_at_the_launch_barrier_before_its_first_stage(tmp_path, monkeypatch):
    from harness.run import barrier

    # a pair of two whose other side never arrives: this side waits 1.5 s, then starts alone and says so
    monkeypatch.setenv(barrier.ENV, barrier.spec(tmp_path, 2, 1.5))
    rec = runner.run(build_config("smoke", {"data.rows": 20_000}))
    assert [n for n in rec["notes"] if n.startswith(barrier.NOTE)] == [
        f"{barrier.NOTE}1 of 2 sides arrived within 1.5 s ([gate] barrier_timeout_s); this side started its "
        "first stage alone"]
    assert rec["stages"][0]["name"] == "imports" and rec["stages"][0]["start_s"] >= 1.5  # no stage before it
    assert len(list(tmp_path.iterdir())) == 1  # it arrived


def test_an_exception_in_the_worker_becomes_an_error_event(tmp_path):
    import json
    import os

    from harness.run import worker

    (tmp_path / "config.json").write_text("{truncated")
    read_fd, write_fd = os.pipe()
    assert worker.main([str(tmp_path / "config.json"), str(tmp_path), str(write_fd)]) == 0
    event = json.loads(os.read(read_fd, 65536).decode().splitlines()[0])
    assert event[0] == "error" and event[2] == "exception" and "JSONDecodeError" in event[3]


@pytest.mark.parametrize("kind", ["spin", "sleep"])
def test_a_planted_slowdown_spins_or_sleeps(kind):
    from harness.pipeline import chain

    config = build_config("smoke", {"faults.slowdown_stage": "etl", "faults.slowdown_fraction": 1.0,
                                    "faults.slowdown_kind": kind})
    t0, c0 = time.perf_counter() - 0.3, time.thread_time()  # a 0.3 s stage: 0.3 s more
    chain._apply_faults(config, "etl", {}, t0)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    assert wall >= 0.6
    assert (cpu >= 0.29) if kind == "spin" else (cpu < 0.1)  # spinning is work; sleeping is not
