"""What else used the host's CPUs during a pair (harness/measure/host.py): fixed inputs, known answers."""

from __future__ import annotations

import pytest

from harness.measure import host

STAT = """cpu  1000 20 300 9000 50 7 3 40 0 0
cpu0 500 10 150 4500 25 3 2 20 0 0
intr 1 2 3
"""


def test_parse_stat_sums_the_busy_fields_and_steal():
    busy, steal = host.parse_stat(STAT, hz=100)
    assert busy == pytest.approx((1000 + 20 + 300 + 7 + 3) / 100)  # idle, iowait, steal, guest not busy
    assert steal == pytest.approx(0.4)
    with pytest.raises(ValueError):
        host.parse_stat("cpu0 1 2 3\n", hz=100)


def test_between_splits_the_host_busy_time_into_sides_parent_and_others():
    a = host.Snapshot(t_s=10.0, busy_s=100.0, steal_s=1.0, self_s=2.0, children_s=50.0, load1=1.0)
    b = host.Snapshot(t_s=30.0, busy_s=146.0, steal_s=1.5, self_s=2.4, children_s=90.0, load1=2.5)
    d = host.between(a, b)
    assert d["seconds"] == 20.0 and d["sides_cpu_s"] == 40.0 and d["parent_cpu_s"] == pytest.approx(0.4)
    assert d["others_cpu_s"] == pytest.approx(5.6)  # 46 busy - 40 sides - 0.4 parent
    assert d["others_pct"] == pytest.approx(28.0) and d["parent_pct"] == pytest.approx(2.0)
    assert d["steal_s"] == pytest.approx(0.5) and d["steal_pct"] == pytest.approx(2.5)
    assert d["load1"] == 2.5


def test_between_without_proc_stat_has_no_others_and_rounding_never_goes_negative():
    a = host.Snapshot(0.0, None, None, 0.0, 0.0, None)
    b = host.Snapshot(1.0, None, None, 0.01, 1.9, None)
    d = host.between(a, b)
    assert d["others_cpu_s"] is None and "others_pct" not in d and d["sides_cpu_s"] == 1.9
    c = host.Snapshot(0.0, 10.0, 0.0, 0.0, 0.0, None)
    e = host.Snapshot(1.0, 11.98, 0.0, 0.0, 2.0, None)  # ticks count 1.98 s of busy time, the sides 2.0 s
    assert host.between(c, e)["others_cpu_s"] == 0.0


def test_summary_and_words():
    pairs = [{"others_pct": x, "steal_pct": 0.0, "parent_pct": 1.0, "load1": 2.0} for x in (1.0, 3.0, 40.0)]
    s = host.summary(pairs)
    assert s["pairs"] == 3 and s["others_pct"] == {"median": 3.0, "max": 40.0}
    assert host.words(s).startswith("host during the 3 pairs, median: other processes 3.0% of a CPU (max 40.0%)")
    assert host.summary([]) is None and host.words(None) == ""


def test_a_real_snapshot_counts_a_reaped_child():
    import subprocess
    import sys

    a = host.snapshot()
    subprocess.run([sys.executable, "-c", "x = sum(i * i for i in range(3_000_000))"], check=True)
    d = host.between(a, host.snapshot())
    assert d["sides_cpu_s"] > 0.05 and d["seconds"] >= d["sides_cpu_s"] / 4
