"""GPU health: clocks, power, temperature and clock event ("throttle") reasons from NVML."""

from __future__ import annotations

from harness.measure.gpu._hw import _load_nvml, _NvmlSession, _text, nvml_origin
from harness.measure.gpu.devices import parent_device, run_device

# NVML clock event ("throttle") reason bits, as nvml.h defines them (stable across versions).
CLOCK_REASONS = {
    0x001: "gpu_idle", 0x002: "applications_clocks_setting", 0x004: "sw_power_cap",
    0x008: "hw_slowdown", 0x010: "sync_boost", 0x020: "sw_thermal_slowdown",
    0x040: "hw_thermal_slowdown", 0x080: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
    0x200: "board_limit", 0x400: "reliability",
}
# Reasons that mean the GPU ran slower than it should: the run is marked throttled.
# sw_power_cap is left out on purpose: a loaded H100 sits at its power cap in normal operation.
THROTTLING_REASONS = frozenset({"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown",
                                "hw_power_brake_slowdown"})

_NVML_CLOCK_SM, _NVML_CLOCK_MEM, _NVML_TEMPERATURE_GPU = 1, 2, 0  # nvml.h enum values


def decode_reasons(mask: int) -> list[str]:
    """Names of the clock event reason bits set in ``mask``; unknown bits as ``unknown_0x...``."""
    names = [name for bit, name in CLOCK_REASONS.items() if mask & bit]
    rest = mask & ~sum(CLOCK_REASONS)
    return names + ([f"unknown_{rest:#x}"] if rest else [])


def is_throttled(reasons) -> bool:
    """True when any reason slows the GPU below what the workload asked for (THROTTLING_REASONS)."""
    return any(r in THROTTLING_REASONS for r in reasons)


def clock_reasons_mask(nvml, handle) -> int | None:
    """The current clock event reasons bitmask: the newer ClocksEventReasons call, else the
    older ClocksThrottleReasons one (whichever the binding and driver have); None if neither works."""
    for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
        fn = getattr(nvml, name, None)
        if fn is None:
            continue
        try:
            return int(fn(handle))
        except Exception:  # e.g. FunctionNotFound on an older driver: try the next
            continue
    return None


def _health_fields(nvml, handle, gpu) -> dict:
    """Readers of each field: ``handle`` is the run's device (a MIG instance or a GPU), ``gpu`` the
    physical GPU, whose clocks, power and temperature these are."""
    sm = getattr(nvml, "NVML_CLOCK_SM", _NVML_CLOCK_SM)
    mem = getattr(nvml, "NVML_CLOCK_MEM", _NVML_CLOCK_MEM)
    return {
        "uuid": lambda: _text(nvml.nvmlDeviceGetUUID(handle)),
        "name": lambda: _text(nvml.nvmlDeviceGetName(gpu)),
        "sm_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(gpu, sm),
        "sm_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(gpu, sm),
        "mem_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(gpu, mem),
        "mem_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(gpu, mem),
        "power_draw_w": lambda: nvml.nvmlDeviceGetPowerUsage(gpu) / 1000.0,
        "power_limit_w": lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(gpu) / 1000.0,
        "temperature_c": lambda: nvml.nvmlDeviceGetTemperature(
            gpu, getattr(nvml, "NVML_TEMPERATURE_GPU", _NVML_TEMPERATURE_GPU)),
    }


def _read_fields(fields: dict) -> tuple[dict, dict]:
    values, errors = {}, {}
    for key, read in fields.items():
        try:
            values[key] = read()
        except Exception as exc:  # one unsupported field must not hide the others
            values[key], errors[key] = None, f"{type(exc).__name__}: {exc}"
    return values, errors


def gpu_health(nvml=None, environ=None) -> dict | None:
    """A snapshot of the run's GPU's health, or None when NVML is unusable or that GPU is not found.

    The run's GPU is ``run_device(nvml, environ)``: the first entry of CUDA_VISIBLE_DEVICES in
    ``environ`` (the worker's environment; default os.environ). Keys: uuid (of the run's device:
    "GPU-..." or, on a MIG instance, "MIG-..."), name, driver_version, cuda_driver_version (what
    the driver supports, "12.4"), sm/mem clocks current and max (MHz), power draw and limit (W),
    temperature_c, throttle_reasons (names; None when unreadable), throttle_reasons_mask,
    throttled, errors (field -> message), nvml_binding (``nvml_origin``). Clocks, power,
    temperature and reasons are the physical GPU's, also on a MIG instance.
    """
    nvml = _load_nvml(nvml)
    if nvml is None:
        return None
    try:
        with _NvmlSession(nvml):
            handle = run_device(nvml, environ)
            if handle is None:
                return None
            gpu = parent_device(nvml, handle)
            values, errors = _read_fields({
                "driver_version": lambda: _text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": lambda: _cuda_version_text(nvml.nvmlSystemGetCudaDriverVersion()),
                **_health_fields(nvml, handle, gpu)})
            mask = clock_reasons_mask(nvml, gpu)
    except Exception:  # no driver
        return None
    if mask is None:
        errors["throttle_reasons"] = "neither clock event reasons call answered"
    reasons = decode_reasons(mask) if mask is not None else None
    return {**values, "throttle_reasons": reasons, "throttle_reasons_mask": mask,
            "throttled": is_throttled(reasons or ()), "errors": errors, "nvml_binding": nvml_origin(nvml)}


def _cuda_version_text(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"


def merge_health(start: dict | None, end: dict | None, reasons_seen=()) -> dict | None:
    """The record's ``gpu`` field from the health at start and end of a run.

    ``throttled`` is true when either snapshot, or the reasons the sampler saw during the run
    (``NvmlSampler.summary()["reasons_seen"]``), has a throttling reason. ``uuid`` is the run's
    device's. None when both are None.
    """
    if start is None and end is None:
        return None
    snapshots = [h for h in (start, end) if h is not None]
    reasons = set(reasons_seen)
    for h in snapshots:
        reasons.update(h.get("throttle_reasons") or ())
    first = snapshots[0]
    return {"uuid": first.get("uuid"), "name": first.get("name"), "driver_version": first.get("driver_version"),
            "cuda_driver_version": first.get("cuda_driver_version"),
            "throttled": is_throttled(reasons) or any(h.get("throttled") for h in snapshots),
            "throttle_reasons": sorted(reasons), "start": start, "end": end}
