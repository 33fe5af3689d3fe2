"""GPU health and throttling (harness/measure/gpu/health.py) with fake NVML."""
from __future__ import annotations

import pytest

from harness.measure import gpu

MiB = 2**20
from gpu_fakes import (
    H100,
    FakeGpu,
    FakeNvml,
)


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
    health = gpu.gpu_health(FakeNvml([device]))
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
    assert gpu.gpu_health(old)["throttle_reasons"] == ["hw_power_brake_slowdown"]
    assert old.calls["throttle"] == 1
    broken = FakeNvml([FakeGpu(reasons=0x80)])
    broken.fail.add("events")  # binding has it, driver does not (FunctionNotFound)
    assert gpu.gpu_health(broken)["throttled"] is True
    assert broken.calls["throttle"] == 1


def test_gpu_health_unsupported_field_is_recorded_not_raised():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("power")
    health = gpu.gpu_health(nvml)
    assert health["power_draw_w"] is None and "power" in health["errors"]["power_draw_w"]
    assert health["temperature_c"] == FakeGpu().temperature_c


def test_gpu_health_none_without_nvml():
    nvml = FakeNvml([FakeGpu()])
    nvml.fail.add("nvmlInit")
    assert gpu.gpu_health(nvml) is None


def test_merge_health_marks_run_throttled_if_either_end_was():
    calm = gpu.gpu_health(FakeNvml([FakeGpu(reasons=0x1)]))
    hot = gpu.gpu_health(FakeNvml([FakeGpu(reasons=0x40)]))
    assert gpu.merge_health(calm, calm)["throttled"] is False
    assert gpu.merge_health(calm, hot)["throttled"] is True
    assert gpu.merge_health(hot, calm)["throttled"] is True
    assert gpu.merge_health(calm, None)["throttled"] is False
    merged = gpu.merge_health(calm, calm, reasons_seen=["sw_thermal_slowdown"])
    assert merged["throttled"] is True and merged["throttle_reasons"] == ["gpu_idle", "sw_thermal_slowdown"]
    assert gpu.merge_health(None, None) is None


def test_gpu_health_reads_the_run_gpu_by_uuid_not_index_0():
    gpus = [FakeGpu(temperature_c=30, reasons=0x40), FakeGpu(temperature_c=77)]
    nvml = FakeNvml(gpus)
    health = gpu.gpu_health(nvml, environ={"CUDA_VISIBLE_DEVICES": gpus[1].uuid})
    assert health["uuid"] == gpus[1].uuid and health["temperature_c"] == gpus[1].temperature_c
    assert health["throttled"] is False  # the neighbour's thermal slowdown is not this run's
    by_index = gpu.gpu_health(nvml, environ={"CUDA_VISIBLE_DEVICES": "1"})
    assert by_index["uuid"] == gpus[1].uuid


def test_gpu_health_reads_os_environ_by_default(monkeypatch):
    gpus = [FakeGpu(), FakeGpu()]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-1")
    assert gpu.gpu_health(FakeNvml(gpus))["uuid"] == "GPU-fake-1"


def test_gpu_health_of_a_mig_instance_reads_its_gpus_clocks():
    parent = FakeGpu(sm_mhz=1410, reasons=0x20)
    mig = FakeGpu(uuid="MIG-5c2a-0001", parent=parent, sm_mhz=0)
    nvml = FakeNvml([parent], migs=[mig])
    health = gpu.gpu_health(nvml, environ={"CUDA_VISIBLE_DEVICES": mig.uuid})
    assert health["uuid"] == mig.uuid and health["sm_clock_mhz"] == parent.sm_mhz
    assert health["throttle_reasons"] == ["sw_thermal_slowdown"] and health["throttled"] is True


def test_gpu_health_none_when_the_run_gpu_is_not_found():
    assert gpu.gpu_health(FakeNvml([FakeGpu()]), environ={"CUDA_VISIBLE_DEVICES": "GPU-elsewhere"}) is None


def test_gpu_health_unreadable_reasons_are_unknown_not_calm():
    nvml = FakeNvml([FakeGpu(reasons=0x40)])
    nvml.fail.update({"events", "throttle"})
    health = gpu.gpu_health(nvml)
    assert health["throttle_reasons"] is None and health["throttle_reasons_mask"] is None
    assert "throttle_reasons" in health["errors"]


def test_gpu_health_names_its_nvml_binding():
    assert gpu.gpu_health(FakeNvml([FakeGpu()]))["nvml_binding"] == gpu.nvml_origin(FakeNvml([]))


def test_merge_health_carries_the_uuid():
    gpus = [FakeGpu(), FakeGpu()]
    nvml = FakeNvml(gpus)
    environ = {"CUDA_VISIBLE_DEVICES": gpus[1].uuid}
    start, end = gpu.gpu_health(nvml, environ), gpu.gpu_health(nvml, environ)
    assert gpu.merge_health(start, end)["uuid"] == gpus[1].uuid
    assert gpu.merge_health(None, end)["uuid"] == gpus[1].uuid
