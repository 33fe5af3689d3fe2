"""Fakes for the GPU measurement tests: FakeNvml stands for the pynvml module, FakeCuda for
torch.cuda, FakeClock for time. They replace only the hardware calls."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

MiB = 2**20

REPO = Path(__file__).resolve().parents[2]
H100 = "NVIDIA H100 80GB HBM3"


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
    uuid: str = ""  # FakeNvml names it GPU-fake-<index> when empty
    parent: "FakeGpu | None" = None  # set on a MIG instance: its physical GPU


class FakeNvml:
    """The pynvml calls the harness makes, over FakeGpu devices; ``fail`` names calls that raise."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 1, 2, 0
    NVMLError = FakeNVMLError

    def __init__(self, gpus, event_api=True, throttle_api=True, driver=b"570.124.06", cuda_driver=12080, migs=()):
        self.gpus, self.driver, self.cuda_driver = list(gpus), driver, cuda_driver
        self.migs = list(migs)  # MIG instances (FakeGpu with parent set): found by UUID only, as in NVML
        for i, g in enumerate(self.gpus):
            g.uuid = g.uuid or f"GPU-fake-{i}"
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
        if not 0 <= i < len(self.gpus):
            self._call("handle")
            raise FakeNVMLError("Invalid Argument")
        return self._call("handle", self.gpus[i])

    def nvmlDeviceGetHandleByUUID(self, uuid):
        assert isinstance(uuid, bytes), "the old pynvml package passes the UUID to c_char_p: bytes only"
        found = [g for g in self.gpus + self.migs if g.uuid.encode() == uuid]
        self._call("handle_by_uuid")
        if not found:
            raise FakeNVMLError("Not Found")
        return found[0]

    def nvmlDeviceGetUUID(self, h):
        return self._call("uuid", h.uuid)

    def nvmlDeviceIsMigDeviceHandle(self, h):
        return self._call("is_mig", int(h.parent is not None))

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, h):
        return self._call("mig_parent", h.parent)

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

    def empty_cache(self):
        self.log.append("empty_cache")
        self.reserved = self.allocated

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
