"""GPU measurement code (harness/measure/gpu/, benchmarks/gpu_smoke.py) on a machine without a GPU.

The fakes replace only the hardware calls: FakeNvml stands for the pynvml module, FakeCuda for
torch.cuda. Everything else (sampling loop, pid matching, windows, decoding, counters, timers,
record building) is the real code.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import gpu_smoke
from harness.documents import record
from harness.measure import environment as env
from harness.measure import gpu
from harness.pipeline import determinism

REPO = Path(__file__).resolve().parents[2]
H100 = "NVIDIA H100 80GB HBM3"
MiB = 2**20


# ---------------------------------------------------------------- fakes

class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeNVMLError(Exception):
    pass


@dataclass
class FakeGpu:
    name: bytes | str = H100.encode()
    compute: dict = field(default_factory=dict)  # pid -> usedGpuMemory
    graphics: dict = field(default_factory=dict)
    used_bytes: int = 0
    sm_mhz: int = 1755
    sm_max_mhz: int = 1980
    mem_mhz: int = 2619
    mem_max_mhz: int = 2619
    power_mw: int = 312_000
    limit_mw: int = 700_000
    temperature_c: int = 41
    reasons: int = 0


class FakeNvml:
    """The pynvml calls the harness makes, over FakeGpu devices; ``fail`` names calls that raise."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 1, 2, 0
    NVMLError = FakeNVMLError

    def __init__(self, gpus, event_api=True, throttle_api=True, driver=b"570.124.06", cuda_driver=12080):
        self.gpus, self.driver, self.cuda_driver = list(gpus), driver, cuda_driver
        self.fail: set[str] = set()
        self.calls: Counter = Counter()
        if event_api:
            self.nvmlDeviceGetCurrentClocksEventReasons = lambda h: self._call("events", h).reasons
        if throttle_api:
            self.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: self._call("throttle", h).reasons

    def _call(self, name, value=None):
        self.calls[name] += 1
        if name in self.fail:
            raise FakeNVMLError(f"{name}: Unknown Error")
        return value

    def nvmlInit(self):
        self._call("nvmlInit")

    def nvmlShutdown(self):
        self._call("nvmlShutdown")

    def nvmlDeviceGetCount(self):
        return self._call("count", len(self.gpus))

    def nvmlDeviceGetHandleByIndex(self, i):
        return self._call("handle", self.gpus[i])

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return self._call("compute", [SimpleNamespace(pid=p, usedGpuMemory=b) for p, b in h.compute.items()])

    def nvmlDeviceGetGraphicsRunningProcesses(self, h):
        return self._call("graphics", [SimpleNamespace(pid=p, usedGpuMemory=b) for p, b in h.graphics.items()])

    def nvmlDeviceGetMemoryInfo(self, h):
        return self._call("memory", SimpleNamespace(used=h.used_bytes, total=80 * 2**30))

    def nvmlSystemGetDriverVersion(self):
        return self._call("driver", self.driver)

    def nvmlSystemGetCudaDriverVersion(self):
        return self._call("cuda_driver", self.cuda_driver)

    def nvmlDeviceGetName(self, h):
        return self._call("name", h.name)

    def nvmlDeviceGetClockInfo(self, h, kind):
        return self._call("clock", h.sm_mhz if kind == self.NVML_CLOCK_SM else h.mem_mhz)

    def nvmlDeviceGetMaxClockInfo(self, h, kind):
        return self._call("max_clock", h.sm_max_mhz if kind == self.NVML_CLOCK_SM else h.mem_max_mhz)

    def nvmlDeviceGetPowerUsage(self, h):
        return self._call("power", h.power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return self._call("power_limit", h.limit_mw)

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._call("temperature", h.temperature_c)


class FakeEvent:
    """torch.cuda.Event: elapsed_time() fails unless synchronize ran after the record, as on CUDA."""

    def __init__(self, cuda):
        self.cuda, self.t, self.recorded_at_call = cuda, None, None

    def record(self):
        self.t = self.cuda.clock()
        self.recorded_at_call = len(self.cuda.log)
        self.cuda.log.append("event.record")

    def elapsed_time(self, end) -> float:
        last_sync = max((i for i, c in enumerate(self.cuda.log) if c == "synchronize"), default=-1)
        if last_sync < max(self.recorded_at_call, end.recorded_at_call):
            raise RuntimeError("CUDA error: device not ready")
        return (end.t - self.t) * 1000.0


class FakeCuda:
    """torch.cuda: memory counters that follow allocate()/free(), a call log, events on a clock."""

    def __init__(self, name=H100, count=1, clock=time.perf_counter):
        self.name, self.count, self.clock = name, count, clock
        self.log: list[str] = []
        self.allocated = self.reserved = self.peak_allocated = self.peak_reserved = 0

    def allocate(self, n):
        self.allocated += n
        self.reserved = max(self.reserved, self.allocated)
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        self.peak_reserved = max(self.peak_reserved, self.reserved)

    def free(self, n):
        self.allocated -= n

    def is_available(self):
        return self.count > 0

    def device_count(self):
        return self.count

    def get_device_name(self, i=0):
        return self.name

    def get_device_capability(self, i=0):
        return (9, 0)

    def get_device_properties(self, i=0):
        return SimpleNamespace(total_memory=80 * 2**30)

    def synchronize(self):
        self.log.append("synchronize")

    def reset_peak_memory_stats(self):
        self.log.append("reset_peak_memory_stats")
        self.peak_allocated, self.peak_reserved = self.allocated, self.reserved

    def max_memory_allocated(self):
        self.log.append("max_memory_allocated")
        return self.peak_allocated

    def max_memory_reserved(self):
        self.log.append("max_memory_reserved")
        return self.peak_reserved

    def Event(self, enable_timing=False):  # noqa: N802 - torch's name
        assert enable_timing, "timing events need enable_timing=True"
        return FakeEvent(self)


@pytest.fixture
def child_pid():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc.pid
    proc.kill()
    proc.wait()


# ---------------------------------------------------------------- NvmlSampler

def test_sampler_sums_own_process_tree_only(child_pid):
    me = os.getpid()
    gpu0 = FakeGpu(compute={me: 300 * MiB, child_pid: 50 * MiB, 999_999: 7000 * MiB},
                   graphics={me: 300 * MiB}, used_bytes=9000 * MiB)  # listed twice: counted once
    gpu1 = FakeGpu(compute={me: 20 * MiB, 888_888: 1000 * MiB}, used_bytes=2000 * MiB)
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=FakeNvml([gpu0, gpu1]), clock=clock, origin_s=0.0)
    assert sampler.open()
    sampler.sample_once()
    assert sampler.samples() == {"t_s": [0.0], "used_bytes": [(300 + 50 + 20) * MiB]}
    assert sampler.samples("device")["used_bytes"] == [11000 * MiB]
    assert sampler.source == "process"


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


def test_sampler_thread_samples_every_interval():
    me = os.getpid()
    sampler = gpu.NvmlSampler(pid=me, interval_s=0.02, nvml=FakeNvml([FakeGpu(compute={me: MiB})]))
    sampler.start()
    time.sleep(0.4)
    sampler.stop()
    assert len(sampler.t_s) >= 5  # ~20 expected; wide bound for 2 shared cores
    gaps = [b - a for a, b in zip(sampler.t_s, sampler.t_s[1:])]
    assert statistics.median(gaps) <= 0.05
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


def test_sampler_error_mid_run_is_counted_and_sampling_goes_on():
    me = os.getpid()
    nvml = FakeNvml([FakeGpu(compute={me: 64 * MiB})])
    clock = FakeClock()
    sampler = gpu.NvmlSampler(pid=me, nvml=nvml, clock=clock, origin_s=0.0)
    sampler.open()
    sampler.sample_once()
    nvml.fail.add("compute")
    clock.t = 0.02
    sampler.sample_once()
    nvml.fail.discard("compute")
    clock.t = 0.04
    sampler.sample_once()
    assert sampler.t_s == [0.0, 0.04]
    assert sampler.error_count == 1 and "compute" in sampler.last_error


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


# ---------------------------------------------------------------- health and throttling

def _real_nvml_constants():
    import pynvml

    prefix = next(p for p in ("nvmlClocksEventReason", "nvmlClocksThrottleReason") if hasattr(pynvml, p + "GpuIdle"))
    return lambda name: getattr(pynvml, prefix + name)


@pytest.mark.parametrize("parts, names, throttled", [
    ((), [], False),
    (("GpuIdle",), ["gpu_idle"], False),
    (("ApplicationsClocksSetting",), ["applications_clocks_setting"], False),
    (("SwPowerCap",), ["sw_power_cap"], False),
    (("GpuIdle", "SwThermalSlowdown"), ["gpu_idle", "sw_thermal_slowdown"], True),
    (("HwThermalSlowdown",), ["hw_thermal_slowdown"], True),
    (("HwPowerBrakeSlowdown",), ["hw_power_brake_slowdown"], True),
    (("HwSlowdown", "SyncBoost"), ["hw_slowdown", "sync_boost"], True),
])
def test_decode_reasons_against_the_nvml_binding(parts, names, throttled):
    const = _real_nvml_constants()
    mask = sum(const(p) for p in parts)
    assert gpu.decode_reasons(mask) == names
    assert gpu.is_throttled(gpu.decode_reasons(mask)) is throttled


def test_decode_reasons_unknown_bits():
    assert gpu.decode_reasons(0x1 | 0x8000) == ["gpu_idle", "unknown_0x8000"]


def test_gpu_health_reads_every_field():
    device = FakeGpu(reasons=0x1 | 0x20)
    health = gpu.gpu_health(FakeNvml([device]), index=0)
    assert health["name"] == H100 and health["driver_version"] == "570.124.06"
    assert health["cuda_driver_version"] == "12.8"
    assert (health["sm_clock_mhz"], health["sm_clock_max_mhz"]) == (device.sm_mhz, device.sm_max_mhz)
    assert (health["mem_clock_mhz"], health["mem_clock_max_mhz"]) == (device.mem_mhz, device.mem_max_mhz)
    assert health["power_draw_w"] == device.power_mw / 1000 and health["power_limit_w"] == device.limit_mw / 1000
    assert health["temperature_c"] == device.temperature_c
    assert health["throttle_reasons"] == ["gpu_idle", "sw_thermal_slowdown"] and health["throttled"] is True
    assert health["errors"] == {}


def test_gpu_health_uses_older_throttle_api_when_event_api_is_missing_or_fails():
    old = FakeNvml([FakeGpu(reasons=0x80)], event_api=False)
    assert gpu.gpu_health(old, index=0)["throttle_reasons"] == ["hw_power_brake_slowdown"]
    assert old.calls["throttle"] == 1
    broken = FakeNvml([FakeGpu(reasons=0x80)])
    broken.fail.add("events")  # binding has it, driver does not (FunctionNotFound)
    assert gpu.gpu_health(broken, index=0)["throttled"] is True
    assert broken.calls["throttle"] == 1


def test_gpu_health_unsupported_field_is_recorded_not_raised():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("power")
    health = gpu.gpu_health(nvml, index=0)
    assert health["power_draw_w"] is None and "power" in health["errors"]["power_draw_w"]
    assert health["temperature_c"] == FakeGpu().temperature_c


def test_gpu_health_none_without_nvml():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("nvmlInit")
    assert gpu.gpu_health(nvml) is None


def test_default_device_index_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert gpu.default_device_index() == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8a1b")
    assert gpu.default_device_index() == 0


def test_merge_health_marks_run_throttled_if_either_end_was():
    calm = gpu.gpu_health(FakeNvml([FakeGpu(reasons=0x1)]), index=0)
    hot = gpu.gpu_health(FakeNvml([FakeGpu(reasons=0x40)]), index=0)
    assert gpu.merge_health(calm, calm)["throttled"] is False
    assert gpu.merge_health(calm, hot)["throttled"] is True
    assert gpu.merge_health(hot, calm)["throttled"] is True
    assert gpu.merge_health(calm, None)["throttled"] is False
    merged = gpu.merge_health(calm, calm, reasons_seen=["sw_thermal_slowdown"])
    assert merged["throttled"] is True and merged["throttle_reasons"] == ["gpu_idle", "sw_thermal_slowdown"]
    assert gpu.merge_health(None, None) is None


# ---------------------------------------------------------------- stage counters, sync, timers

def test_stage_counters_synchronize_before_reading_and_reset_per_stage():
    cuda = FakeCuda()
    counters = gpu.StageCudaCounters(cuda, rmm_statistics=None)
    counters.begin()
    assert cuda.log == ["synchronize", "reset_peak_memory_stats"]
    cuda.allocate(100 * MiB)
    cuda.free(100 * MiB)
    cuda.log.clear()
    first = counters.end()
    assert cuda.log[0] == "synchronize" and cuda.log.index("synchronize") < cuda.log.index("max_memory_allocated")
    counters.begin()
    cuda.allocate(40 * MiB)
    second = counters.end()
    assert first == {"torch_peak_allocated_bytes": 100 * MiB, "torch_peak_reserved_bytes": 100 * MiB}
    # the first stage's peak does not leak into the second; reserved memory stays reserved
    assert second == {"torch_peak_allocated_bytes": 40 * MiB, "torch_peak_reserved_bytes": 100 * MiB}


class FakeRmmStatistics:
    """rmm.statistics with statistics enabled: push/pop a stack of counters."""

    def __init__(self, enabled=True):
        self.enabled, self.stack, self.calls = enabled, [], []

    def enable_statistics(self):
        self.enabled = True

    def push_statistics(self):
        self.calls.append("push")
        if not self.enabled:
            return None
        self.stack.append(SimpleNamespace(peak_bytes=0))
        return SimpleNamespace(peak_bytes=0)

    def pop_statistics(self):
        self.calls.append("pop")
        return self.stack.pop() if self.enabled else None


def test_stage_counters_report_rmm_peak_when_statistics_enabled():
    rmm = FakeRmmStatistics()
    counters = gpu.StageCudaCounters(FakeCuda(), rmm_statistics=rmm)
    counters.begin()
    rmm.stack[-1].peak_bytes = 123 * MiB  # what cudf allocated during the stage
    assert counters.end()["rmm_peak_bytes"] == 123 * MiB
    assert rmm.calls == ["push", "pop"]


def test_stage_counters_without_rmm_statistics_have_no_rmm_key():
    rmm = FakeRmmStatistics(enabled=False)
    counters = gpu.StageCudaCounters(FakeCuda(), rmm_statistics=rmm)
    counters.begin()
    assert "rmm_peak_bytes" not in counters.end()
    assert rmm.calls == ["push"]
    assert gpu.enable_rmm_statistics(rmm) is True and rmm.enabled


def test_stage_counters_are_null_without_cuda():
    assert gpu.stage_counters("cpu", cuda=FakeCuda()).end() == {}
    assert isinstance(gpu.stage_counters("cuda", cuda=FakeCuda()), gpu.StageCudaCounters)
    if gpu._default_cuda() is None:  # this machine: torch without CUDA
        assert isinstance(gpu.stage_counters("cuda"), gpu.NullStageCounters)


def test_cuda_synchronize():
    cuda = FakeCuda()
    assert gpu.cuda_synchronize(cuda) is True and cuda.log == ["synchronize"]
    if gpu._default_cuda() is None:
        assert gpu.cuda_synchronize() is False


def _run_steps(timer, clock, durations, gap_s=0.5, batch=32):
    for d in durations:
        clock.t += gap_s  # input loading between steps
        timer.step_begin()
        clock.t += d
        timer.step_end(batch)


@pytest.mark.parametrize("use_events", [True, False])
def test_step_timer_excludes_warmup_steps_and_counts_them(use_events):
    clock = FakeClock(100.0)
    durations = [3.0, 2.0, 0.25, 0.5, 0.75]  # the first two are warm-up (compilation, autotune)
    cuda = FakeCuda(clock=clock) if use_events else None
    timer = gpu.CudaEventTimer(warmup_steps=2, cuda=cuda, clock=clock)
    _run_steps(timer, clock, durations)
    timing = timer.result()
    timed = durations[2:]
    assert (timing.steps, timing.warmup_steps, timing.timed_steps) == (5, 2, 3)
    assert timing.samples == 32 * len(timed)
    assert timing.busy_s == pytest.approx(sum(timed))
    assert timing.timed_s == pytest.approx(sum(timed) + 0.5 * (len(timed) - 1))  # span incl. gaps
    assert timing.samples_per_s == pytest.approx(timing.samples / timing.timed_s)
    assert timing.clock == ("cuda_event" if use_events else "perf_counter")


def test_step_timer_with_only_warmup_steps_has_no_rate():
    clock = FakeClock()
    timer = gpu.CudaEventTimer(warmup_steps=5, cuda=FakeCuda(clock=clock), clock=clock)
    _run_steps(timer, clock, [1.0, 1.0])
    timing = timer.result()
    assert (timing.steps, timing.warmup_steps, timing.timed_steps, timing.samples_per_s) == (2, 2, 0, None)


def test_step_timer_callback_feeds_the_timer():
    clock = FakeClock()
    timer = gpu.CudaEventTimer(warmup_steps=1, cuda=FakeCuda(clock=clock), clock=clock)
    callback = gpu.step_timer_callback(timer)
    args = SimpleNamespace(per_device_train_batch_size=16, gradient_accumulation_steps=2, world_size=1)
    for _ in range(3):
        callback.on_step_begin(args, None, None)
        clock.t += 0.1
        callback.on_step_end(args, None, None)
    timing = timer.result()
    assert (timing.steps, timing.warmup_steps, timing.samples) == (3, 1, 2 * 16 * 2)


def test_attach_and_detach_step_timer_on_a_trainer():
    class Trainer:
        def __init__(self):
            self.callbacks = []

        def add_callback(self, cb):
            self.callbacks.append(cb)

        def remove_callback(self, cb):
            self.callbacks.remove(cb)

    trainer = Trainer()
    timer = gpu.attach_step_timer(trainer, "cpu")
    assert trainer.callbacks == [timer.callback] and timer.warmup_steps == gpu.TRAIN_WARMUP_STEPS == 1
    args = SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=1, world_size=2)
    for _ in range(3):
        timer.callback.on_step_begin(args, None, None)
        timer.callback.on_step_end(args, None, None)
    fields = gpu.detach_step_timer(trainer, timer)
    assert trainer.callbacks == []
    assert set(fields) == {"warmup_steps", "timed_steps", "timed_samples", "timed_s", "step_clock"}
    assert (fields["warmup_steps"], fields["timed_steps"], fields["timed_samples"]) == (1, 2, 2 * 4 * 2)
    assert fields["step_clock"] == "perf_counter" and fields["timed_s"] >= 0
    assert gpu.detach_step_timer(trainer, None) == {}


def test_step_timer_factory_picks_the_clock():
    assert gpu.step_timer("cpu", 3).cuda is None
    assert gpu.step_timer("cuda", 3, cuda=FakeCuda()).cuda is not None


# ---------------------------------------------------------------- environment

def test_cuda_info_and_machine_class_for_h100():
    info = gpu.cuda_info(cuda=FakeCuda(name=H100), nvml=FakeNvml([FakeGpu()]), cuda_version="12.8")
    assert info == {"device_count": 1, "device_name": H100, "capability": "9.0",
                    "memory_total_bytes": 80 * 2**30, "cuda_version": "12.8", "driver_version": "570.124.06"}
    assert env.machine_class(info) == "gpu-h100"


def test_cuda_info_without_cuda_is_empty():
    assert gpu.cuda_info(cuda=FakeCuda(count=0)) == {}
    if gpu._default_cuda() is None:
        assert gpu.cuda_info() == {}
        assert env.machine_class(gpu.cuda_info()).startswith("cpu-")


def test_cuda_info_driver_none_when_nvml_fails():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("nvmlInit")
    assert gpu.cuda_info(cuda=FakeCuda(), nvml=nvml, cuda_version="12.8")["driver_version"] is None


# ---------------------------------------------------------------- determinism

@pytest.fixture
def restore_determinism(monkeypatch):
    import torch

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield torch
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[2:]
    determinism.nondeterministic_ops(clear=True)


def test_configure_determinism_on_cuda(restore_determinism):
    torch = restore_determinism
    seeds = []
    cupy = SimpleNamespace(random=SimpleNamespace(seed=seeds.append))
    notes = determinism.configure_determinism("cuda", 7, cupy=cupy)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.benchmark is False
    assert seeds == [7]
    assert any("CUBLAS_WORKSPACE_CONFIG" in n for n in notes) and any("cupy" in n for n in notes)


def test_configure_determinism_on_cpu_leaves_cublas_and_cupy(restore_determinism):
    notes = determinism.configure_determinism("cpu", 7, cupy=SimpleNamespace())  # cupy.random missing: never touched
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert not any("cupy" in n for n in notes)


def test_configure_determinism_notes_missing_cupy(restore_determinism, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    notes = determinism.configure_determinism("cuda", 7)
    assert any("cupy not importable" in n for n in notes)


def test_nondeterministic_ops_are_recorded(restore_determinism):
    from torch._prims_common import alert_not_deterministic  # what torch's own ops call

    determinism.configure_determinism("cpu", 1)
    determinism.nondeterministic_ops(clear=True)
    with warnings.catch_warnings(record=True) as shown:
        determinism.configure_determinism("cpu", 1)  # re-hooks inside this scope
        alert_not_deterministic("index_add_cuda_")
        alert_not_deterministic("scatter_add_cuda_kernel")
    assert determinism.nondeterministic_ops() == ["index_add_cuda_", "scatter_add_cuda_kernel"]
    assert len(shown) == 2  # still passed on to the previous handler


# ---------------------------------------------------------------- the smoke script

TINY = gpu_smoke.SmokeConfig(train_steps=12, warmup_steps=3, eval_steps=5, batch_size=8, seq_len=8, vocab=50,
                             d_model=16, heads=2, layers=1)


def test_smoke_imports_only_light_modules():
    code = ("import sys, benchmarks.gpu_smoke, harness.measure.gpu, harness.documents.record, "
            "harness.measure.environment, harness.documents.atomic, harness.measure.events, harness.errors; heavy = [m for m in ('torch', 'pandas', 'nvtabular', 'merlin', 'transformers', "
            "'transformers4rec', 'cudf', 'cupy', 'pynvml', 'jsonschema', 'psutil') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_smoke_record_with_fakes_is_valid(tmp_path):
    me = os.getpid()
    device = FakeGpu(compute={me: 700 * MiB}, used_bytes=1500 * MiB)
    nvml = FakeNvml([device])
    cuda = FakeCuda()
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=cuda, nvml=nvml, determinism=("note",))
    environment = env.collect(cuda=gpu.cuda_info(cuda=cuda, nvml=nvml, cuda_version="12.8"))
    rec = gpu_smoke.build_record(result, environment, "python -m benchmarks.gpu_smoke --out x")
    path = record.write(rec, tmp_path / "gpu-smoke-record.json")
    loaded = record.load(path)

    assert [s["name"] for s in loaded["stages"]] == ["synthetic", "model", "train", "evaluate"]
    starts = [s["start_s"] for s in loaded["stages"]]
    assert starts == sorted(starts) and all(s["end_s"] >= s["start_s"] for s in loaded["stages"])
    m = record.by_name(loaded)
    for name in ("train.wall_s", "train.cpu_s", "train.samples_per_s", "train.torch_peak_allocated_bytes",
                 "train.torch_peak_reserved_bytes", "train.nvml_peak_used_bytes", "evaluate.samples_per_s",
                 "model.nvml_peak_used_bytes", "total.wall_s", "total.nvml_peak_used_bytes",
                 "quality.final_train_loss"):
        assert name in m, name
    assert m["train.nvml_peak_used_bytes"]["value"] == 700 * MiB
    assert m["train.samples_per_s"]["higher_is_better"] and m["train.wall_s"]["kind"] == "time"
    g = loaded["gpu"]
    assert g["name"] == H100 and g["throttled"] is False and g["determinism"] == ["note"]
    assert g["train_steps"]["warmup_steps"] == TINY.warmup_steps
    assert g["train_steps"]["steps"] == TINY.train_steps and g["nvml"]["source"] == "process"
    assert g["agreement"]["train_event_within_wall"] is True
    assert g["agreement"]["nvml_at_least_torch_reserved"] is True
    tl = loaded["timeline"]
    assert len(tl["gpu_t_s"]) == len(tl["gpu_used_bytes"]) >= 4  # one boundary sample per stage at least
    assert loaded["environment"]["machine_class"] == "gpu-h100" and loaded["profile"] == "gpu-smoke"
    # put together by the pipeline's builder: its fields, in its order, and the smoke workload's own hash
    from harness.documents.record_types import RunRecord

    assert list(loaded) == [k for k in RunRecord.__annotations__ if k in loaded] and loaded["repeat"] == 1
    assert loaded["workload_hash"] == gpu_smoke._hash({**TINY.workload(), "device": "cpu"})
    # every stage was synchronized and its torch peaks reset
    assert cuda.log.count("reset_peak_memory_stats") == 4


def test_smoke_stages_are_measured_by_the_pipelines_meter():
    from harness.measure.meters import StageMeter

    cuda = FakeCuda()
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=cuda, nvml=FakeNvml([FakeGpu(compute={os.getpid(): MiB})]))
    assert all(isinstance(stage, gpu_smoke.StageResult) for stage in result.stages)
    for s in result.stages:
        assert 0 <= s.wall_s <= s.end_s - s.start_s and s.cpu_s >= 0 and s.nvml_peak_used_bytes == MiB
        assert set(s.memory) == {"torch_peak_allocated_bytes", "torch_peak_reserved_bytes"}
    m = {x["name"]: x["value"] for x in gpu_smoke.measurements(result)}
    assert m["train.wall_s"] == result.stages[2].wall_s
    assert m["total.wall_s"] == result.stages[-1].end_s - result.stages[0].start_s
    assert gpu_smoke.StageMeter is StageMeter


def test_smoke_summary_lines_name_stages_and_peaks():
    nvml = FakeNvml([FakeGpu(compute={os.getpid(): 64 * MiB})])
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=FakeCuda(), nvml=nvml)
    environment = env.collect(cuda=gpu.cuda_info(cuda=FakeCuda(), nvml=nvml, cuda_version="12.8"))
    text = "\n".join(gpu_smoke.summary_lines(gpu_smoke.build_record(result, environment)))
    for stage in ("synthetic", "model", "train", "evaluate"):
        assert stage in text
    assert "64.0 MiB" in text and "train.samples_per_s" in text


def test_smoke_without_cuda_exits_2_with_one_error_line(tmp_path, capsys):
    if gpu._default_cuda() is not None:
        pytest.skip("this machine has CUDA")
    out = tmp_path / "rec.json"
    assert gpu_smoke.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and not out.exists()


def test_smoke_rejects_slow_sample_interval(tmp_path, capsys):
    assert gpu_smoke.main(["--out", str(tmp_path / "r.json"), "--sample-interval-s", "0.1"]) == 2
    assert capsys.readouterr().err.startswith("error: --sample-interval-s")


@pytest.mark.slow
def test_gpu_smoke_sh_without_cuda_exits_2(tmp_path):
    if gpu._default_cuda() is not None:
        pytest.skip("this machine has CUDA")
    environ = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_smoke.sh")], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: no CUDA device")


def test_configure_determinism_survives_a_broken_cupy(restore_determinism):
    def broken(seed):
        raise RuntimeError("cudaErrorInsufficientDriver")

    notes = determinism.configure_determinism("cuda", 7, cupy=SimpleNamespace(random=SimpleNamespace(seed=broken)))
    assert any("cupy could not be seeded" in n and "InsufficientDriver" in n for n in notes)


def test_gpu_timelines_use_the_one_downsampler():
    import inspect

    from harness.run import runner

    # The GPU timeline is downsampled by harness.measure.meters.downsample (tested in test_measure), no other.
    assert not hasattr(gpu, "downsample_max")
    assert "downsample(s[\"t_s\"], s[\"used_bytes\"]" in inspect.getsource(runner)
