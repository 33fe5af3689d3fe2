"""CUDA synchronization and per-stage GPU memory peaks (torch and RMM counters)."""

from __future__ import annotations

from harness.measure.gpu._hw import _default_cuda


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
