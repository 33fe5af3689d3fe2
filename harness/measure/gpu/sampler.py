"""NVML sampling: used GPU memory of a process tree, on a daemon thread, and the clock event
reasons seen while sampling."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from harness.measure.gpu._hw import _load_nvml, _text, nvml_origin
from harness.measure.gpu.devices import parent_device, run_device
from harness.measure.gpu.health import clock_reasons_mask, decode_reasons

DEFAULT_SAMPLE_INTERVAL_S = 0.02
MAX_SAMPLE_INTERVAL_S = 0.05  # the slowest NVML sampling accepted: a coarser one misses a short stage's peak


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
    """Samples NVML used GPU memory of a process tree, on the run's GPU only, on a daemon thread.

    The run's GPU is ``run_device(nvml, environ)``: the first entry of CUDA_VISIBLE_DEVICES in
    ``environ`` (the worker's environment, which the runner passes; default os.environ). Other
    GPUs on the node are never read.

    Each sample has two values, either of which may be unknown (None):
    - process: the sum of NVML's usedGpuMemory for the compute and graphics processes whose pid
      is ``pid`` or one of its descendants (refreshed every ``pid_refresh_s``). It includes the
      CUDA context and every allocator (torch, RMM, cuBLAS workspaces), so it is at least torch's
      reserved bytes. Unknown when a process list cannot be read or a matched process's
      usedGpuMemory is not available (None; in containers, or per MIG instance).
    - device: the GPU's total used memory (nvmlDeviceGetMemoryInfo).
    ``source`` is "process" once a sample had a known process value (the tree was found in NVML's
    process lists with its memory), else "device": inside a container NVML may list host pids
    that never match. Times are ``clock() - origin_s`` (origin defaults to the clock at
    construction). Every NVML call is guarded on its own: a failing call loses that value, not the
    sample, and errors never reach the caller: they are counted.
    """

    def __init__(self, pid: int | None = None, interval_s: float = DEFAULT_SAMPLE_INTERVAL_S, nvml=None,
                 clock=time.perf_counter, origin_s: float | None = None, pid_refresh_s: float = 0.25,
                 environ=None):
        if not 0 < interval_s <= MAX_SAMPLE_INTERVAL_S:
            raise ValueError(f"interval_s must be in (0, {MAX_SAMPLE_INTERVAL_S}], got {interval_s}")
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self.clock = clock
        self.origin_s = clock() if origin_s is None else origin_s
        self.pid_refresh_s = pid_refresh_s
        self.environ = environ
        self._nvml_arg = nvml
        self.nvml: Any = None  # the NVML binding (pynvml, untyped, or a test's fake); None until open()
        self.binding: dict | None = None  # nvml_origin() of the module in use
        self.uuid: str | None = None  # the run's device
        self._handle = None  # the run's device: a GPU or a MIG instance
        self._gpu = None  # its physical GPU (throttle reasons)
        self._pids: set[int] = {self.pid}
        self._pids_at: float | None = None
        self._lock = threading.RLock()  # one sample at a time: the thread and boundary samples
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t_s: list[float] = []
        self.used_bytes: list[int | None] = []  # process values; None: unknown
        self.device_used_bytes: list[int | None] = []  # device values; None: unknown
        self.matched_samples = 0  # samples with a known process value
        self.unknown = {"process": 0, "device": 0, "reasons": 0}  # samples (reads) with that value unknown
        self.error_count = 0
        self.last_error: str | None = None
        self.reasons_mask = 0  # clock event reasons seen while sampling, OR-ed
        self._graphics = True

    # -- lifecycle
    def open(self) -> bool:
        """Initialise NVML and find the run's GPU; False (error recorded) when that fails."""
        try:
            self.nvml = _load_nvml(self._nvml_arg)
            if self.nvml is None:
                raise RuntimeError("no NVML binding (pynvml) is installed")
            self.binding = nvml_origin(self.nvml)
            self.nvml.nvmlInit()
        except Exception as exc:  # the sampler never raises into the run
            return self._give_up(exc, shutdown=False)
        self._handle = run_device(self.nvml, self.environ)
        if self._handle is None:
            cvd = (os.environ if self.environ is None else self.environ).get("CUDA_VISIBLE_DEVICES")
            return self._give_up(LookupError(f"no NVML device for CUDA_VISIBLE_DEVICES={cvd!r}"), shutdown=True)
        self._gpu = parent_device(self.nvml, self._handle)
        self.uuid = self._guarded(lambda: _text(self.nvml.nvmlDeviceGetUUID(self._handle)))
        return True

    def _give_up(self, exc: BaseException, shutdown: bool) -> bool:
        self._record_error(exc)
        if shutdown:
            self._guarded(self.nvml.nvmlShutdown)
        self.nvml = None
        return False

    def start(self) -> NvmlSampler:
        """Open NVML and start the sampling thread (nothing is sampled if NVML is unusable)."""
        if self.open():
            self._thread = threading.Thread(target=self._run, name="nvml-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> NvmlSampler:
        """Stop the thread, take one last sample, and shut NVML down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.nvml is not None:
            self.sample_once()
            self._guarded(self.nvml.nvmlShutdown)
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
            t = self.clock() - self.origin_s
            refresh = self._pids_at is None or t - self._pids_at >= self.pid_refresh_s
            if refresh:
                self._pids, self._pids_at = process_tree(self.pid), t
                self._read_reasons()
            used, unknown = self._process_used()
            device_used = self._guarded(lambda: int(self.nvml.nvmlDeviceGetMemoryInfo(self._handle).used))
            self.t_s.append(t)
            self.used_bytes.append(used)
            self.device_used_bytes.append(device_used)
            self.matched_samples += used is not None
            self.unknown["process"] += unknown
            self.unknown["device"] += device_used is None

    def _process_used(self) -> tuple[int | None, bool]:
        """(the tree's used bytes on the run's device, or None; whether that None means unknown: the
        process list was unreadable or a matched process had no usedGpuMemory, rather than no match)."""
        procs = self._guarded(lambda: self._processes(self._handle))
        if procs is None:
            return None, True
        per_pid: dict[int, list] = {}
        for proc in procs:
            if proc.pid in self._pids:  # a process may be listed as compute and graphics
                per_pid.setdefault(proc.pid, []).append(_used(proc))
        if not per_pid:
            return None, False
        known = [max((v for v in values if v is not None), default=None) for values in per_pid.values()]
        found = [v for v in known if v is not None]
        return (None, True) if len(found) < len(known) else (sum(found), False)

    def _processes(self, handle) -> list:
        procs = list(self.nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        if self._graphics:
            try:
                procs += list(self.nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))
            except Exception:  # not supported on compute-only boards: stop asking
                self._graphics = False
        return procs

    def _read_reasons(self) -> None:
        mask = clock_reasons_mask(self.nvml, self._gpu)
        if mask is None:
            self.unknown["reasons"] += 1
        else:
            self.reasons_mask |= mask

    def _guarded(self, read):
        """``read()``, or None with the error counted when it raises."""
        try:
            return read()
        except Exception as exc:  # one failing NVML call loses one value
            self._record_error(exc)
            return None

    def _record_error(self, exc: BaseException) -> None:
        self.error_count += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    # -- results
    @property
    def source(self) -> str:
        """"process" when a sample had the process tree's memory, else "device"."""
        return "process" if self.matched_samples else "device"

    def samples(self, source: str | None = None) -> dict:
        """{"t_s": [...], "used_bytes": [...]} (copies) of ``source`` or of self.source, the samples
        whose value is known only."""
        with self._lock:
            series = self.used_bytes if (source or self.source) == "process" else self.device_used_bytes
            known = [(t, u) for t, u in zip(self.t_s, series, strict=True) if u is not None]
        return {"t_s": [t for t, _ in known], "used_bytes": [u for _, u in known]}

    def peak_between(self, t0: float, t1: float, source: str | None = None) -> int | None:
        """Highest known used bytes sampled in [t0, t1] (offsets from origin_s); None if no sample fell there."""
        s = self.samples(source)
        inside = [u for t, u in zip(s["t_s"], s["used_bytes"], strict=True) if t0 <= t <= t1]
        return max(inside) if inside else None

    def summary(self) -> dict:
        """What the run record keeps about the sampling itself: ``unknown`` counts the samples whose
        process value (a matched process without usedGpuMemory, or an unreadable process list) or
        device value was unknown, and the throttle reason reads that failed."""
        return {"interval_s": self.interval_s, "samples": len(self.t_s), "source": self.source,
                "uuid": self.uuid, "matched_samples": self.matched_samples, "unknown": dict(self.unknown),
                "errors": self.error_count, "last_error": self.last_error,
                "reasons_seen": decode_reasons(self.reasons_mask), "nvml_binding": self.binding}


_NOT_AVAILABLE = 2**64 - 1  # NVML_VALUE_NOT_AVAILABLE as an unsigned long long


def _used(proc) -> int | None:
    """A process's usedGpuMemory; None when NVML does not know it (both bindings turn
    NVML_VALUE_NOT_AVAILABLE into None; a raw one is read as None too)."""
    value = getattr(proc, "usedGpuMemory", None)
    return None if value is None or int(value) >= _NOT_AVAILABLE else int(value)
