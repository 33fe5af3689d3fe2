"""GPU measurement: CUDA-synchronized timing, torch/RMM memory counters, NVML sampling, GPU health.

Everything here also works without a GPU: functions return ``{}``/``None`` or no-op objects.
Hardware is reached through two injectable objects, so tests replace only the hardware calls:
``nvml`` (the pynvml module of nvidia-ml-py) and ``cuda`` (``torch.cuda``). torch, pynvml,
psutil, cupy and rmm are imported inside functions; importing this module is cheap.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass

DEFAULT_SAMPLE_INTERVAL_S = 0.02
MAX_SAMPLE_INTERVAL_S = 0.05  # issue #7: NVML sampled at 50 ms or faster
CUBLAS_WORKSPACE_CONFIG = ":4096:8"

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


# ---------------------------------------------------------------- resolving the hardware objects

def _load_nvml(nvml=None):
    """The given module, or pynvml; None when nvidia-ml-py is not installed."""
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _default_cuda():
    """``torch.cuda`` when torch is importable and sees a CUDA device, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda if torch.cuda.is_available() else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _NvmlSession:
    """nvmlInit/nvmlShutdown around a block (NVML counts nested inits)."""

    def __init__(self, nvml):
        self.nvml = nvml

    def __enter__(self):
        self.nvml.nvmlInit()
        return self.nvml

    def __exit__(self, *exc):
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutdown failures change nothing for the caller
            pass
        return False


# ---------------------------------------------------------------- environment

def driver_version(nvml=None) -> str | None:
    """The NVIDIA driver version from NVML, or None."""
    nvml = _load_nvml(nvml)
    if nvml is None:
        return None
    try:
        with _NvmlSession(nvml):
            return _text(nvml.nvmlSystemGetDriverVersion())
    except Exception:  # noqa: BLE001 - no driver, no NVML: not an error here
        return None


def _torch_cuda_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.version.cuda


def cuda_info(cuda=None, nvml=None, cuda_version: str | None = None) -> dict:
    """The CUDA part of the environment fingerprint; ``{}`` without CUDA.

    Keys: device_count, device_name, capability ("9.0"), memory_total_bytes, cuda_version
    (torch's CUDA runtime, torch.version.cuda), driver_version (NVML). Only stable facts:
    clocks and temperatures belong in gpu_health().
    """
    cuda = cuda if cuda is not None else _default_cuda()
    if cuda is None or not cuda.is_available() or cuda.device_count() < 1:
        return {}
    major, minor = cuda.get_device_capability(0)
    return {
        "device_count": int(cuda.device_count()),
        "device_name": _text(cuda.get_device_name(0)),
        "capability": f"{major}.{minor}",
        "memory_total_bytes": int(cuda.get_device_properties(0).total_memory),
        "cuda_version": cuda_version if cuda_version is not None else _torch_cuda_version(),
        "driver_version": driver_version(nvml),
    }


# ---------------------------------------------------------------- synchronization and stage counters

def cuda_synchronize(cuda=None) -> bool:
    """Wait for all queued CUDA work of this process; True when there was a device to wait for.

    Stage timers call this before reading the clock. torch's synchronize is a device-wide
    cudaDeviceSynchronize, so it also waits for cupy/cudf kernels in the same process.
    """
    cuda = cuda if cuda is not None else _default_cuda()
    if cuda is None:
        return False
    cuda.synchronize()
    return True


def _rmm_statistics():
    """``rmm.statistics`` when rmm (24.08+) is importable, else None."""
    try:
        import rmm.statistics as stats
    except Exception:  # noqa: BLE001 - absent, too old (< 24.08), or broken against this CUDA
        return None
    return stats


def enable_rmm_statistics(rmm_statistics=None) -> bool:
    """Turn on RMM allocation statistics (before cudf allocates); False without rmm.statistics."""
    stats = rmm_statistics if rmm_statistics is not None else _rmm_statistics()
    if stats is None:
        return False
    stats.enable_statistics()
    return True


class StageCudaCounters:
    """Per-stage GPU memory peaks. Call ``begin()`` before a stage and ``end()`` after it.

    ``end()`` returns {torch_peak_allocated_bytes, torch_peak_reserved_bytes} and, when RMM
    statistics are enabled (enable_rmm_statistics()), rmm_peak_bytes: the peak of the stage's own
    RMM counters (rmm.statistics push/pop), i.e. cudf's allocations, which torch does not see.
    torch peaks are reset per stage, so they include memory still held from earlier stages.
    """

    def __init__(self, cuda, rmm_statistics=None):
        self.cuda = cuda
        self.rmm = rmm_statistics if rmm_statistics is not None else _rmm_statistics()
        self._rmm_pushed = False

    def begin(self) -> None:
        self.cuda.synchronize()
        self.cuda.reset_peak_memory_stats()
        self._rmm_pushed = self.rmm is not None and self.rmm.push_statistics() is not None

    def end(self) -> dict:
        self.cuda.synchronize()
        out = {"torch_peak_allocated_bytes": int(self.cuda.max_memory_allocated()),
               "torch_peak_reserved_bytes": int(self.cuda.max_memory_reserved())}
        if self._rmm_pushed:
            stats = self.rmm.pop_statistics()
            if stats is not None:
                out["rmm_peak_bytes"] = int(stats.peak_bytes)
        self._rmm_pushed = False
        return out


class NullStageCounters:
    """The no-op counters used without CUDA: ``end()`` returns ``{}``."""

    def begin(self) -> None:
        pass

    def end(self) -> dict:
        return {}


def stage_counters(device: str, cuda=None, rmm_statistics=None):
    """StageCudaCounters for ``device == "cuda"`` with a usable device, else NullStageCounters."""
    if device != "cuda":
        return NullStageCounters()
    cuda = cuda if cuda is not None else _default_cuda()
    return NullStageCounters() if cuda is None else StageCudaCounters(cuda, rmm_statistics)


# ---------------------------------------------------------------- step timing

@dataclass(frozen=True)
class StepTiming:
    steps: int  # all steps seen, warm-up included
    warmup_steps: int  # excluded from timed_s and samples
    timed_steps: int
    samples: int  # samples of the timed steps
    timed_s: float  # from the first timed step's start to the last step's end
    busy_s: float  # sum of the timed steps' own durations (input loading between steps left out)
    samples_per_s: float | None  # samples / timed_s; None when no step was timed
    clock: str  # "cuda_event" or "perf_counter"

    def to_dict(self) -> dict:
        return asdict(self)


class CudaEventTimer:
    """Times training/eval steps: CUDA events with ``cuda``, else perf_counter after synchronize.

    Call ``step_begin()`` / ``step_end(samples)`` around each step and ``result()`` once at the
    end (one synchronize there, none per step). The first ``warmup_steps`` steps are counted
    but not timed.
    """

    def __init__(self, warmup_steps: int = 0, cuda=None, clock=time.perf_counter):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.warmup_steps = warmup_steps
        self.cuda = cuda
        self.clock = clock
        self.steps = 0
        self.samples = 0
        self._marks: list[tuple[object, object]] = []
        self._begin = None

    def _mark(self):
        if self.cuda is None:
            return self.clock()
        event = self.cuda.Event(enable_timing=True)
        event.record()
        return event

    def _elapsed_s(self, a, b) -> float:
        return (b - a) if self.cuda is None else a.elapsed_time(b) / 1000.0

    def step_begin(self) -> None:
        self._begin = self._mark() if self.steps >= self.warmup_steps else None

    def step_end(self, samples: int) -> None:
        if self._begin is not None:
            self._marks.append((self._begin, self._mark()))
            self.samples += int(samples)
        self.steps += 1
        self._begin = None

    def result(self) -> StepTiming:
        if self.cuda is not None:
            self.cuda.synchronize()
        timed = len(self._marks)
        span = self._elapsed_s(self._marks[0][0], self._marks[-1][1]) if timed else 0.0
        busy = sum(self._elapsed_s(a, b) for a, b in self._marks)
        rate = self.samples / span if timed and span > 0 else None
        return StepTiming(self.steps, min(self.steps, self.warmup_steps), timed, self.samples, span, busy,
                          rate, "perf_counter" if self.cuda is None else "cuda_event")


def step_timer(device: str, warmup_steps: int = 0, cuda=None) -> CudaEventTimer:
    """A CudaEventTimer using CUDA events on ``device == "cuda"``, perf_counter otherwise."""
    if device == "cuda":
        cuda = cuda if cuda is not None else _default_cuda()
    return CudaEventTimer(warmup_steps, cuda=cuda if device == "cuda" else None)


def step_timer_callback(timer: CudaEventTimer):
    """A transformers TrainerCallback feeding ``timer`` one step per optimizer step."""
    from transformers import TrainerCallback

    class StepTimerCallback(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            timer.step_begin()

        def on_step_end(self, args, state, control, **kwargs):
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            timer.step_end(per_step * max(1, getattr(args, "world_size", 1)))

    return StepTimerCallback()


# ---------------------------------------------------------------- NVML sampling

def process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants (psutil; /proc when psutil is missing)."""
    try:
        import psutil
    except ImportError:
        return _proc_tree(pid)
    try:
        return {pid} | {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return {pid}


def _proc_tree(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split() if int(c) not in out)
        except OSError:
            continue
    return out


class NvmlSampler:
    """Samples NVML per-process used GPU memory of a process tree on a daemon thread.

    ``used_bytes`` is the sum, over all devices, of NVML's usedGpuMemory for the compute and
    graphics processes whose pid is ``pid`` or one of its descendants (refreshed every
    ``pid_refresh_s``). It includes the CUDA context and every allocator (torch, RMM, cuBLAS
    workspaces), so it is at least torch's reserved bytes. Each sample also records the devices'
    total used memory: inside a container NVML may report host pids that never match, and then
    ``source`` falls back to "device". Times are ``clock() - origin_s`` (origin defaults to the
    clock at construction). NVML errors never reach the caller: they are counted.
    """

    def __init__(self, pid: int | None = None, interval_s: float = DEFAULT_SAMPLE_INTERVAL_S, nvml=None,
                 clock=time.perf_counter, origin_s: float | None = None, pid_refresh_s: float = 0.25):
        if not 0 < interval_s <= MAX_SAMPLE_INTERVAL_S:
            raise ValueError(f"interval_s must be in (0, {MAX_SAMPLE_INTERVAL_S}], got {interval_s}")
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self.clock = clock
        self.origin_s = clock() if origin_s is None else origin_s
        self.pid_refresh_s = pid_refresh_s
        self._nvml_arg = nvml
        self.nvml = None
        self._handles: list = []
        self._pids: set[int] = {self.pid}
        self._pids_at: float | None = None
        self._lock = threading.RLock()  # one sample at a time: the thread and boundary samples
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t_s: list[float] = []
        self.used_bytes: list[int] = []
        self.device_used_bytes: list[int] = []
        self.matched_samples = 0
        self.error_count = 0
        self.last_error: str | None = None
        self.reasons_mask = 0  # clock event reasons seen while sampling, OR-ed
        self._graphics = True

    # -- lifecycle
    def open(self) -> bool:
        """Initialise NVML and find the devices; False (error recorded) when that fails."""
        try:
            self.nvml = _load_nvml(self._nvml_arg)
            if self.nvml is None:
                raise RuntimeError("nvidia-ml-py (pynvml) is not installed")
            self.nvml.nvmlInit()
            count = self.nvml.nvmlDeviceGetCount()
            self._handles = [self.nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            return True
        except Exception as exc:  # noqa: BLE001 - the sampler never raises into the run
            self._record_error(exc)
            self.nvml = None
            return False

    def start(self) -> "NvmlSampler":
        """Open NVML and start the sampling thread (nothing is sampled if NVML is unusable)."""
        if self.open():
            self._thread = threading.Thread(target=self._run, name="nvml-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> "NvmlSampler":
        """Stop the thread, take one last sample, and shut NVML down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.nvml is not None:
            self.sample_once()
            try:
                self.nvml.nvmlShutdown()
            except Exception as exc:  # noqa: BLE001
                self._record_error(exc)
            self.nvml = None
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            # a fixed schedule, so the time a sample takes does not stretch the interval
            next_at = max(next_at + self.interval_s, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    # -- one sample
    def sample_once(self) -> None:
        """Take one sample now. The thread calls this every interval_s; a stage timer may call it
        at a stage's end so that stages shorter than the interval still get a sample."""
        if self.nvml is None:  # not started, NVML unusable, or stopped
            return
        with self._lock:
            try:
                t = self.clock() - self.origin_s
                refresh = self._pids_at is None or t - self._pids_at >= self.pid_refresh_s
                if refresh:
                    self._pids, self._pids_at = process_tree(self.pid), t
                used, matched = self._process_used()
                device_used = sum(int(self.nvml.nvmlDeviceGetMemoryInfo(h).used) for h in self._handles)
                if refresh:
                    self.reasons_mask |= self._reasons()
            except Exception as exc:  # noqa: BLE001
                self._record_error(exc)
                return
            self.t_s.append(t)
            self.used_bytes.append(used)
            self.device_used_bytes.append(device_used)
            self.matched_samples += matched

    def _process_used(self) -> tuple[int, bool]:
        per_process: dict[tuple[int, int], int] = {}
        for index, handle in enumerate(self._handles):
            for proc in self._processes(handle):
                if proc.pid in self._pids:
                    key = (index, proc.pid)  # a process may be listed as compute and graphics
                    per_process[key] = max(per_process.get(key, 0), int(proc.usedGpuMemory or 0))
        return sum(per_process.values()), bool(per_process)

    def _processes(self, handle) -> list:
        procs = list(self.nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        if self._graphics:
            try:
                procs += list(self.nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
            except Exception:  # noqa: BLE001 - not supported on compute-only boards: stop asking
                self._graphics = False
        return procs

    def _reasons(self) -> int:
        mask = 0
        for handle in self._handles:
            mask |= clock_reasons_mask(self.nvml, handle) or 0
        return mask

    def _record_error(self, exc: BaseException) -> None:
        self.error_count += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    # -- results
    @property
    def source(self) -> str:
        """"process" when the process tree was found in NVML's process lists, else "device"."""
        return "process" if self.matched_samples else "device"

    def samples(self, source: str | None = None) -> dict:
        """{"t_s": [...], "used_bytes": [...]} (copies), of ``source`` or of self.source."""
        series = self.used_bytes if (source or self.source) == "process" else self.device_used_bytes
        with self._lock:
            return {"t_s": list(self.t_s), "used_bytes": list(series)}

    def peak_between(self, t0: float, t1: float, source: str | None = None) -> int | None:
        """Highest used bytes sampled in [t0, t1] (offsets from origin_s); None if no sample fell there."""
        s = self.samples(source)
        inside = [u for t, u in zip(s["t_s"], s["used_bytes"]) if t0 <= t <= t1]
        return max(inside) if inside else None

    def summary(self) -> dict:
        """What the run record keeps about the sampling itself."""
        return {"interval_s": self.interval_s, "samples": len(self.t_s), "source": self.source,
                "matched_samples": self.matched_samples, "errors": self.error_count,
                "last_error": self.last_error, "reasons_seen": decode_reasons(self.reasons_mask)}


def downsample_max(t_s: list, values: list, max_points: int) -> tuple[list, list]:
    """At most ``max_points`` samples for a record's timeline, keeping each bucket's highest value
    (and its time), so peaks survive. Shorter series come back unchanged."""
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if len(t_s) <= max_points:
        return list(t_s), list(values)
    size = -(-len(t_s) // max_points)  # ceil
    picks = [max(range(i, min(i + size, len(t_s))), key=values.__getitem__) for i in range(0, len(t_s), size)]
    return [t_s[i] for i in picks], [values[i] for i in picks]


# ---------------------------------------------------------------- GPU health

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
        except Exception:  # noqa: BLE001 - e.g. FunctionNotFound on an older driver: try the next
            continue
    return None


def default_device_index() -> int:
    """The NVML index of the first visible CUDA device (CUDA_VISIBLE_DEVICES when numeric)."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def _health_fields(nvml, handle) -> dict:
    sm = getattr(nvml, "NVML_CLOCK_SM", _NVML_CLOCK_SM)
    mem = getattr(nvml, "NVML_CLOCK_MEM", _NVML_CLOCK_MEM)
    return {
        "name": lambda: _text(nvml.nvmlDeviceGetName(handle)),
        "sm_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(handle, sm),
        "sm_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, sm),
        "mem_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(handle, mem),
        "mem_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, mem),
        "power_draw_w": lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        "power_limit_w": lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0,
        "temperature_c": lambda: nvml.nvmlDeviceGetTemperature(
            handle, getattr(nvml, "NVML_TEMPERATURE_GPU", _NVML_TEMPERATURE_GPU)),
    }


def _read_fields(fields: dict) -> tuple[dict, dict]:
    values, errors = {}, {}
    for key, read in fields.items():
        try:
            values[key] = read()
        except Exception as exc:  # noqa: BLE001 - one unsupported field must not hide the others
            values[key], errors[key] = None, f"{type(exc).__name__}: {exc}"
    return values, errors


def gpu_health(nvml=None, index: int | None = None) -> dict | None:
    """A snapshot of one GPU's health, or None when NVML is unusable.

    Keys: index, name, driver_version, cuda_driver_version (what the driver supports, "12.4"),
    sm/mem clocks current and max (MHz), power draw and limit (W), temperature_c,
    throttle_reasons (names), throttle_reasons_mask, throttled, errors (field -> message).
    """
    nvml = _load_nvml(nvml)
    if nvml is None:
        return None
    index = default_device_index() if index is None else index
    try:
        with _NvmlSession(nvml):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            values, errors = _read_fields({
                "driver_version": lambda: _text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": lambda: _cuda_version_text(nvml.nvmlSystemGetCudaDriverVersion()),
                **_health_fields(nvml, handle)})
            mask = clock_reasons_mask(nvml, handle)
    except Exception:  # noqa: BLE001 - no driver / no such device
        return None
    reasons = decode_reasons(mask) if mask is not None else None
    return {"index": index, **values, "throttle_reasons": reasons, "throttle_reasons_mask": mask,
            "throttled": is_throttled(reasons or ()), "errors": errors}


def _cuda_version_text(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"


def merge_health(start: dict | None, end: dict | None, reasons_seen=()) -> dict | None:
    """The record's ``gpu`` field from the health at start and end of a run.

    ``throttled`` is true when either snapshot, or the reasons the sampler saw during the run
    (``NvmlSampler.summary()["reasons_seen"]``), has a throttling reason. None when both are None.
    """
    if start is None and end is None:
        return None
    snapshots = [h for h in (start, end) if h is not None]
    reasons = set(reasons_seen)
    for h in snapshots:
        reasons.update(h.get("throttle_reasons") or ())
    first = snapshots[0]
    return {"name": first.get("name"), "driver_version": first.get("driver_version"),
            "cuda_driver_version": first.get("cuda_driver_version"),
            "throttled": is_throttled(reasons) or any(h.get("throttled") for h in snapshots),
            "throttle_reasons": sorted(reasons), "start": start, "end": end}


# ---------------------------------------------------------------- determinism

_NONDETERMINISTIC_MARK = " does not have a deterministic implementation"
_nondeterministic: set[str] = set()


def _install_nondeterminism_hook() -> None:
    """Wrap warnings.showwarning to note torch's "<op> does not have a deterministic ..." warnings."""
    if getattr(warnings.showwarning, "_t4rec_hook", False):
        return
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if _NONDETERMINISTIC_MARK in text:
            _nondeterministic.add(text.split(_NONDETERMINISTIC_MARK, 1)[0].strip())
        return previous(message, category, filename, lineno, file, line)

    showwarning._t4rec_hook = True
    warnings.showwarning = showwarning
    # once per call site, so a training loop does not flood stderr, and never silenced
    warnings.filterwarnings("default", message=f".*{_NONDETERMINISTIC_MARK}.*")


def nondeterministic_ops(clear: bool = False) -> list[str]:
    """Ops torch reported as having no deterministic implementation since configure_determinism()."""
    ops = sorted(_nondeterministic)
    if clear:
        _nondeterministic.clear()
    return ops


def _seed_cupy(seed: int, cupy=None) -> str:
    try:
        if cupy is None:
            import cupy
        cupy.random.seed(seed)
    except ImportError:
        return "cupy not importable: its global RandomState was not seeded"
    except Exception as exc:  # noqa: BLE001 - e.g. a cupy built for another CUDA: note it, go on
        return f"cupy could not be seeded ({type(exc).__name__}: {exc})"
    return f"cupy global RandomState seeded with {seed} (the merlin dataloader shuffles with it)"


def _set_cublas_workspace() -> str:
    current = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    if current in (":4096:8", ":16:8"):
        return f"CUBLAS_WORKSPACE_CONFIG={current} (already set)"
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE_CONFIG
    note = f"CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE_CONFIG}"
    if _cuda_initialized():
        note += " (set after CUDA was initialised: cuBLAS may ignore it in this process)"
    return note


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def configure_determinism(device: str, seed: int, cupy=None) -> list[str]:
    """Make this process as deterministic as torch allows; return notes for the run record.

    Call it before any CUDA work. On cuda: CUBLAS_WORKSPACE_CONFIG and cupy's global seed.
    Always: torch deterministic algorithms (warn_only: ops without a deterministic version warn
    and are listed by nondeterministic_ops()), cudnn benchmark off, torch seeded.
    """
    import torch

    notes = []
    if device == "cuda":
        notes.append(_set_cublas_workspace())
    _install_nondeterminism_hook()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(seed)
    notes.append("torch.use_deterministic_algorithms(True, warn_only=True); cudnn.benchmark off")
    notes.append(f"torch seeded with {seed}")
    if device == "cuda":
        notes.append(_seed_cupy(seed, cupy))
    return notes
