import os
import time
from itertools import pairwise

import pytest

from harness.measure import events
from harness.measure.meters import RssSampler, StageMeter, downsample


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_peak_between_uses_window_or_nearest():
    clock = FakeClock()
    s = RssSampler(os.getpid(), clock=clock)
    for t in (0.0, 1.0, 2.0, 3.0):
        clock.now = t
        s.sample()
    s.samples[:] = [(0.0, 10, 5), (1.0, 50, 7), (2.0, 30, 25), (3.0, 20, 15)]
    assert s.peak_between(0.5, 2.5) == 50
    assert s.peak_between(0.5, 2.5, anon=True) == 25
    assert s.peak_between(2.1, 2.2) == 30  # no sample inside: the nearest to the end
    assert s.t == [0.0, 1.0, 2.0, 3.0] and s.rss == [10, 50, 30, 20] and s.anon == [5, 7, 25, 15]


def test_sampler_sees_memory_of_this_process():
    s = RssSampler(os.getpid(), interval_s=0.01).start()
    time.sleep(0.1)
    s.stop()
    assert len(s.samples) >= 3 and min(s.rss) > 10 * 2**20


def test_anonymous_memory_counts_allocations_not_mapped_files(tmp_path):
    """A touched 64 MiB allocation raises anonymous RSS; reading a mapped 64 MiB file raises only RSS."""
    import mmap

    import psutil

    from harness.measure.meters import tree_memory

    me = psutil.Process()
    rss0, anon0 = tree_memory(me)
    block = bytearray(64 * 2**20)  # zero-filled, so every page is touched
    rss1, anon1 = tree_memory(me)
    assert anon1 - anon0 > 60 * 2**20 and rss1 - rss0 > 60 * 2**20
    del block
    path = tmp_path / "mapped.bin"
    path.write_bytes(b"x" * (64 * 2**20))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        rss2, anon2 = tree_memory(me)
        assert sum(m[i] for i in range(0, len(m), 4096)) > 0  # touch every page
        rss3, anon3 = tree_memory(me)
    assert rss3 - rss2 > 60 * 2**20
    assert abs(anon3 - anon2) < 8 * 2**20


def test_downsample_keeps_peaks():
    ts = list(range(10_000))
    values = [1] * 10_000
    values[4321] = 99
    t2, v2 = downsample(ts, values, max_points=100)
    assert len(t2) == 100 and max(v2) == 99 and 4321 in t2


def test_downsample_takes_each_buckets_maximum_in_time_order():
    t = [i * 0.02 for i in range(1000)]
    v = [(i * 37) % 101 for i in range(1000)]
    v[517] = 10_000
    ts, vs = downsample(t, v, 64)
    assert len(ts) == len(vs) == 64 and max(vs) == 10_000 and ts[vs.index(10_000)] == t[517]
    assert ts == sorted(ts) and all(vs[k] == v[t.index(ts[k])] for k in range(len(ts)))
    # every bucket is 15 or 16 samples long, and each kept sample is its bucket's highest
    edges = [int(i * 1000 / 64) for i in range(65)]
    assert {b - a for a, b in pairwise(edges)} == {15, 16}
    assert vs == [max(v[a:b]) for a, b in pairwise(edges)]
    assert downsample(t[:10], v[:10], 64) == (t[:10], v[:10])
    assert downsample(tuple(t[:3]), tuple(v[:3]), 3) == (t[:3], v[:3])
    with pytest.raises(ValueError):
        downsample(t, v, 0)


def test_stage_meter_reports_start_and_end_with_fake_clock():
    sent = []
    clock = FakeClock()
    meter = StageMeter(sent.append, clock=clock, wall=lambda: 123.0)
    with meter.stage("etl", day=3) as measured:
        clock.now = 2.5
    assert sent[0] == events.StageStart("etl", 123.0, {"day": 3})
    assert type(sent[1]) is events.StageEnd and (sent[1].name, sent[1].wall) == ("etl", 123.0)
    assert sent[1].measured["wall_s"] == 2.5
    assert measured["wall_s"] == 2.5 and measured["cpu_s"] >= 0
    meter.note("the ETL ran on the CPU")
    assert sent[2] == events.Note("the ETL ran on the CPU")


# one of each worker event, with the line the pipe carries for it (tag, then fields in order)
PIPE_LINES = [
    (events.StageStart("etl", 1.5, {"day": 3}), '["stage_start", "etl", 1.5, {"day": 3}]'),
    (events.StageEnd("etl", 2.5, {"wall_s": 1.0}), '["stage_end", "etl", 2.5, {"wall_s": 1.0}]'),
    (events.Note("cudf is not installed"), '["note", "cudf is not installed"]'),
    (events.Numerics({"fingerprint": "ab"}), '["numerics", {"fingerprint": "ab"}]'),
    (events.ProgressReset(2, 40), '["progress_reset", 2, 40]'),
    (events.Progress(1), '["progress", 1]'),
    (events.Result({"days": []}), '["result", {"days": []}]'),
    (events.Error(None, "oom", "out of memory"), '["error", null, "oom", "out of memory"]'),
]


@pytest.mark.parametrize("event, line", PIPE_LINES, ids=[type(e).__name__ for e, _ in PIPE_LINES])
def test_worker_events_round_trip_through_the_pipe_format(event, line):
    assert events.encode(event) == line + "\n"
    assert events.decode(line) == event and events.decode(line.encode()) == event
    assert events.to_list(event)[0] == event.TAG


def test_every_event_kind_has_a_pipe_line_and_bad_lines_are_refused():
    assert {type(e) for e, _ in PIPE_LINES} == set(events.Event.__args__)
    import numpy as np

    assert events.encode(events.Progress(np.float32(2.0))) == '["progress", 2.0]\n'  # numpy scalars as floats
    for bad in ('["mystery", 1]', '[]', '{"stage": "etl"}'):
        with pytest.raises(ValueError, match="not a worker event"):
            events.decode(bad)


def test_cuda_without_cudf_runs_etl_on_cpu_and_says_so():
    from harness.pipeline.chain import etl_backend

    assert etl_backend("cpu", False) == (True, None)
    assert etl_backend("cuda", True) == (False, None)
    cpu, note = etl_backend("cuda", False)
    assert cpu is True and "ETL ran on the CPU" in note and "training runs on the GPU" in note


class _ShownProgress:
    """harness.output.progress.Progress's calls, recorded."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def test_the_parent_reads_the_workers_events_from_their_pipe_lines():
    from harness.config import build_config
    from harness.run import runner

    shown = _ShownProgress()
    watch = runner._Watch(build_config("smoke"), time.monotonic(), shown)
    sent = [events.StageStart("train", 0.0, {"day": 2}), events.Note("plain"), events.ProgressReset(2, 40),
            events.Progress(1), events.StageEnd("train", 1.0, {"wall_s": 1.5, "cpu_s": 1.0}),
            events.Numerics({"fingerprint": "ab"}), events.Result({"days": []})]
    for event in sent:
        watch.handle(events.decode(events.encode(event)), None)
    assert [(s["name"], s["status"], s["labels"]) for s in watch.stages] == [("train", "ok", {"day": 2})]
    assert watch.stages[0]["end_s"] >= watch.stages[0]["start_s"] >= 0 and watch.current is None
    assert watch.totals == {"train": {"wall_s": 1.5, "cpu_s": 1.0}} and watch.notes == ["plain"]
    assert watch.numerics == {"fingerprint": "ab"} and watch.result == {"days": []} and watch.failure is None
    assert shown.calls == [("stage", "train", {"day": 2}), ("note", "plain"), ("step", events.ProgressReset(day=2, total_steps=40)),
                           ("step", events.Progress(steps=1)), ("stage_done", "train", 1.5)]


def test_an_error_event_fails_the_running_stage():
    from harness.config import build_config
    from harness.run import runner

    watch = runner._Watch(build_config("smoke"), time.monotonic(), _ShownProgress())
    for event in (events.StageStart("etl", 0.0, {}), events.Error(None, "oom", "out of memory")):
        watch.handle(events.decode(events.encode(event)), None)
    assert watch.failure == {"stage": "etl", "kind": "oom", "message": "out of memory"}
    assert watch.stages[0]["status"] == "failed" and "labels" not in watch.stages[0]


def test_statm_reads_what_psutil_reads():
    import psutil

    from harness.measure.meters import statm_memory

    info = psutil.Process().memory_info()
    rss, anon = statm_memory(os.getpid())
    assert abs(rss - info.rss) < 4 * 2**20 and abs(anon - (info.rss - info.shared)) < 4 * 2**20
    assert statm_memory(2**22 + 12345) is None  # no such process


def test_sampler_finds_a_child_started_after_it_and_sees_its_allocation():
    """The tree is looked up every TREE_REFRESH_S, not every sample: a child that a watched process starts
    after the sampler did, and that allocates 200 MiB, is still counted. The watched process is a fresh
    one of its own, so no other child of the test process can move the figures."""
    import subprocess
    import sys

    child = "import time; b = bytearray(200 * 2**20); time.sleep(2.5)"
    parent = f"import subprocess, sys, time; time.sleep(0.3); subprocess.run([sys.executable, '-c', {child!r}])"
    root = subprocess.Popen([sys.executable, "-c", parent])
    s = RssSampler(root.pid, interval_s=0.02).start()
    try:
        root.wait(timeout=30)
    finally:
        s.stop()
    assert max(s.anon) - min(s.anon) > 180 * 2**20
