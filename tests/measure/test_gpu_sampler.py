"""NVML memory sampling (harness/measure/gpu/sampler.py) with fake NVML."""
from __future__ import annotations

import os
import time

import pytest

from harness.measure import gpu

MiB = 2**20
from gpu_fakes import (
    FakeClock,
    FakeGpu,
    FakeNvml,
)


def test_sampler_sums_own_process_tree_on_the_run_gpu_only(child_pid):
    me = os.getpid()
    gpu0 = FakeGpu(compute={me: 20 * MiB, 888_888: 1000 * MiB}, used_bytes=2000 * MiB, reasons=0x40)
    gpu1 = FakeGpu(uuid="GPU-run-1", compute={me: 300 * MiB, child_pid: 50 * MiB, 999_999: 7000 * MiB},
                   graphics={me: 300 * MiB}, used_bytes=9000 * MiB)  # listed twice: counted once
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([gpu0, gpu1]), clock=clock, origin_s=0.0,
                              environ={"CUDA_VISIBLE_DEVICES": "GPU-run-1"})
    assert sampler.open()
    sampler.sample_once()
    assert sampler.samples() == {"t_s": [0.0], "used_bytes": [(300 + 50) * MiB]}
    assert sampler.samples("device")["used_bytes"] == [9000 * MiB]  # not the sum over the node
    assert sampler.source == "process"
    summary = sampler.summary()
    assert summary["uuid"] == "GPU-run-1" and summary["reasons_seen"] == []  # gpu0's slowdown is not ours


def test_sampler_peak_between_windows():
    me = os.getpid()
    device = FakeGpu()
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=clock, origin_s=10.0)
    sampler.open()
    series = [(10.00, 100), (10.02, 400), (10.04, 250), (10.06, 900), (10.08, 300), (10.10, 50)]
    for t, mib in series:
        clock.t, device.compute = t, {me: mib * MiB}
        sampler.sample_once()
    offsets = [round(t - 10.0, 6) for t, _ in series]
    assert [round(t, 6) for t in sampler.t_s] == offsets
    for t0, t1 in [(0.0, 0.05), (0.03, 0.07), (0.07, 0.2), (0.0, 1.0)]:
        inside = [mib * MiB for (t, mib), off in zip(series, offsets) if t0 <= off <= t1]
        assert sampler.peak_between(t0, t1) == max(inside)
    assert sampler.peak_between(0.2, 0.3) is None


def test_sampler_interval_at_most_50ms():
    assert gpu.DEFAULT_SAMPLE_INTERVAL_S <= 0.05
    assert gpu.NvmlSampler(nvml=FakeNvml([])).interval_s <= 0.05
    for bad in (0.051, 0.1, 0.0, -1.0):
        with pytest.raises(ValueError, match="interval_s"):
            gpu.NvmlSampler(interval_s=bad, nvml=FakeNvml([]))


def test_sampler_thread_samples_on_its_schedule():
    """The thread keeps sampling, never faster than its fixed schedule, and stops when told. No bound on
    how late a sample may be: a loaded 2-core runner may delay the thread by any amount."""
    me = os.getpid()
    sampler = gpu.NvmlSampler(pid=me, interval_s=0.02, nvml=FakeNvml([FakeGpu(compute={me: MiB})]))
    sampler.start()
    deadline = time.monotonic() + 30.0
    while len(sampler.t_s) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    sampler.stop()
    n, span = len(sampler.t_s), sampler.t_s[-1] - sampler.t_s[0]
    assert n >= 5
    assert n <= span / 0.02 + 2  # a fixed schedule: at most one sample per interval, plus the first
    assert sampler.error_count == 0 and not sampler._thread.is_alive()


def test_sampler_refreshes_pids_on_schedule(child_pid):
    me = os.getpid()
    device = FakeGpu(compute={me: 10 * MiB})
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=clock, origin_s=0.0, pid_refresh_s=0.25)
    sampler.open()
    sampler._pids = {me}  # as if the child were started after the last refresh
    sampler._pids_at = 0.0
    clock.t, device.compute = 0.1, {me: 10 * MiB, child_pid: 5 * MiB}
    sampler.sample_once()  # before the refresh is due: the child is not known yet
    clock.t = 0.3
    sampler.sample_once()
    assert sampler.used_bytes == [10 * MiB, 15 * MiB]


def test_sampler_nvml_init_error_does_not_raise():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("nvmlInit")
    sampler = gpu.NvmlSampler(nvml=nvml).start()
    sampler.sample_once()
    sampler.stop()
    assert sampler._thread is None and sampler.t_s == []
    assert sampler.error_count == 1 and "nvmlInit" in sampler.last_error
    assert sampler.summary()["errors"] == 1 and sampler.peak_between(0, 1e9) is None


def test_sampler_graphics_unsupported_is_not_an_error():
    me = os.getpid()
    nvml = FakeNvml([FakeGpu(compute={me: 64 * MiB})])
    nvml.fail.add("graphics")
    sampler = gpu.NvmlSampler(pid=me, nvml=nvml, clock=FakeClock(), origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    sampler.sample_once()
    assert sampler.used_bytes == [64 * MiB, 64 * MiB] and sampler.error_count == 0
    assert nvml.calls["graphics"] == 1  # asked once, then not again


def test_sampler_falls_back_to_device_memory_when_no_pid_matches():
    # inside a container NVML can list host pids: none of them is ours
    nvml = FakeNvml([FakeGpu(compute={424_242: 900 * MiB}, used_bytes=1200 * MiB)])
    sampler = gpu.NvmlSampler(pid=os.getpid(), nvml=nvml, clock=FakeClock(), origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    assert sampler.source == "device"
    assert sampler.samples()["used_bytes"] == [1200 * MiB]
    assert sampler.peak_between(0, 1) == 1200 * MiB and sampler.summary()["source"] == "device"


def test_sampler_collects_reasons_seen_during_run():
    me = os.getpid()
    device = FakeGpu(compute={me: MiB})
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=clock, origin_s=0.0, pid_refresh_s=0.1)
    sampler.open()
    sampler.sample_once()
    device.reasons = 0x40  # hw thermal slowdown for a moment
    clock.t = 0.2
    sampler.sample_once()
    device.reasons = 0
    clock.t = 0.4
    sampler.sample_once()
    assert sampler.summary()["reasons_seen"] == ["hw_thermal_slowdown"]


def test_sampler_failing_call_loses_its_value_not_the_sample():
    me = os.getpid()
    nvml = FakeNvml([FakeGpu(compute={me: 64 * MiB}, used_bytes=900 * MiB)])
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=nvml, clock=clock, origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    nvml.fail.add("compute")
    clock.t = 0.02
    sampler.sample_once()  # the process list fails: the device value stays
    nvml.fail.symmetric_difference_update({"compute", "memory"})
    clock.t = 0.04
    sampler.sample_once()  # the memory info fails: the process value stays
    nvml.fail.clear()
    assert sampler.t_s == [0.0, 0.02, 0.04]
    assert sampler.samples("process") == {"t_s": [0.0, 0.04], "used_bytes": [64 * MiB, 64 * MiB]}
    assert sampler.samples("device") == {"t_s": [0.0, 0.02], "used_bytes": [900 * MiB, 900 * MiB]}
    summary = sampler.summary()
    assert summary["errors"] == 2 and summary["unknown"] == {"process": 1, "device": 1, "reasons": 0}
    assert "memory" in sampler.last_error


@pytest.mark.parametrize("not_available", [None, 2**64 - 1])  # the bindings' None; a raw NVML_VALUE_NOT_AVAILABLE
def test_sampler_unknown_process_memory_is_unknown_not_zero(not_available):
    me = os.getpid()
    device = FakeGpu(compute={me: not_available}, used_bytes=1200 * MiB)
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=clock, origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    clock.t = 0.02
    sampler.sample_once()
    assert sampler.used_bytes == [None, None]
    assert sampler.source == "device"  # a matched pid without a figure does not make it "process"
    assert sampler.samples() == {"t_s": [0.0, 0.02], "used_bytes": [1200 * MiB, 1200 * MiB]}
    assert sampler.samples("process") == {"t_s": [], "used_bytes": []}
    assert sampler.summary()["unknown"]["process"] == 2 and sampler.error_count == 0


def test_sampler_known_listing_wins_over_an_unknown_one_of_the_same_process():
    me = os.getpid()
    device = FakeGpu(compute={me: 80 * MiB}, graphics={me: None})
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=FakeClock(), origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    assert sampler.used_bytes == [80 * MiB] and sampler.source == "process"


def test_sampler_one_unknown_process_of_the_tree_makes_the_sum_unknown(child_pid):
    me = os.getpid()
    device = FakeGpu(compute={me: 80 * MiB, child_pid: None})
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([device]), clock=FakeClock(), origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    assert sampler.used_bytes == [None] and sampler.summary()["unknown"]["process"] == 1


def test_sampler_unreadable_reasons_are_counted():
    me = os.getpid()
    nvml = FakeNvml([FakeGpu(compute={me: MiB}, reasons=0x40)])
    nvml.fail.update({"events", "throttle"})
    sampler = gpu.NvmlSampler(pid=me, nvml=nvml, clock=FakeClock(), origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    summary = sampler.summary()
    assert summary["reasons_seen"] == [] and summary["unknown"]["reasons"] == 1
    assert sampler.used_bytes == [MiB]


def test_sampler_without_the_run_gpu_samples_nothing():
    nvml = FakeNvml([FakeGpu(compute={os.getpid(): MiB})])
    sampler = gpu.NvmlSampler(nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": "GPU-elsewhere"}).start()
    sampler.sample_once()
    sampler.stop()
    assert sampler._thread is None and sampler.t_s == []
    assert sampler.error_count == 1 and "GPU-elsewhere" in sampler.last_error
    assert nvml.calls["nvmlInit"] == nvml.calls["nvmlShutdown"]


def test_sampler_reads_the_mig_instance_memory_and_its_gpus_reasons():
    me = os.getpid()
    parent = FakeGpu(compute={me: 999 * MiB}, used_bytes=5000 * MiB, reasons=0x20)
    mig = FakeGpu(uuid="MIG-5c2a-0001", parent=parent, compute={me: 40 * MiB}, used_bytes=700 * MiB)
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([parent], migs=[mig]), clock=FakeClock(), origin_s=0.0,
                              environ={"CUDA_VISIBLE_DEVICES": mig.uuid})
    sampler.open()
    sampler.sample_once()
    assert sampler.used_bytes == [40 * MiB] and sampler.device_used_bytes == [700 * MiB]
    assert sampler.summary()["reasons_seen"] == ["sw_thermal_slowdown"] and sampler.uuid == mig.uuid


def test_sampler_summary_names_its_nvml_binding():
    nvml = FakeNvml([FakeGpu()])
    sampler = gpu.NvmlSampler(nvml=nvml, clock=FakeClock(), origin_s=0.0)
    sampler.open()
    assert sampler.summary()["nvml_binding"] == gpu.nvml_origin(nvml)
