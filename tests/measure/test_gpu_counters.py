"""Per-stage GPU counters, synchronisation and step timers (harness/measure/gpu/counters.py,
steps.py) with fake torch.cuda; and the CUDA part of the environment (info.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.measure import environment as env
from harness.measure import gpu

MiB = 2**20
from gpu_fakes import (
    H100,
    FakeClock,
    FakeCuda,
    FakeGpu,
    FakeNvml,
)


def test_stage_counters_synchronize_before_reading_and_reset_per_stage():
    cuda = FakeCuda()
    counters = gpu.StageCudaCounters(cuda)
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


def test_no_rmm_statistics_claim():
    # rmm 23.8 (the pinned stack) has no rmm.statistics (it came in 24.08) and nothing enabled them:
    # the counters report torch's peaks only, and the package promises nothing about RMM
    counters_end = gpu.StageCudaCounters(FakeCuda())
    counters_end.begin()
    assert set(counters_end.end()) == {"torch_peak_allocated_bytes", "torch_peak_reserved_bytes"}
    assert not hasattr(gpu, "enable_rmm_statistics")
