"""NVML sampling: used GPU memory of a process tree, on a daemon thread, and the clock event
reasons seen while sampling."""

from __future__ import annotations

import os
import threading
import time

from harness.measure.gpu._hw import _load_nvml
from harness.measure.gpu.health import clock_reasons_mask, decode_reasons

DEFAULT_SAMPLE_INTERVAL_S = 0.02
MAX_SAMPLE_INTERVAL_S = 0.05  # issue #7: NVML sampled at 50 ms or faster


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
