"""CUDA synchronization and per-stage GPU memory peaks (torch's counters)."""

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


class StageCudaCounters:
    """Per-stage torch GPU memory peaks. Call ``begin()`` before a stage and ``end()`` after it.

    ``end()`` returns {torch_peak_allocated_bytes, torch_peak_reserved_bytes}: torch's caching
    allocator only (cuDF's RMM allocations are not in them; NVML's per-process memory is). Peaks are
    reset per stage, so they include memory still held from earlier stages.
    """

    def __init__(self, cuda):
        self.cuda = cuda

    def begin(self) -> None:
        self.cuda.synchronize()
        self.cuda.reset_peak_memory_stats()

    def end(self) -> dict:
        self.cuda.synchronize()
        return {"torch_peak_allocated_bytes": int(self.cuda.max_memory_allocated()),
                "torch_peak_reserved_bytes": int(self.cuda.max_memory_reserved())}


class NullStageCounters:
    """The no-op counters used without CUDA: ``end()`` returns ``{}``."""

    def begin(self) -> None:
        pass

    def end(self) -> dict:
        return {}


def stage_counters(device: str, cuda=None):
    """StageCudaCounters for ``device == "cuda"`` with a usable device, else NullStageCounters."""
    if device != "cuda":
        return NullStageCounters()
    cuda = cuda if cuda is not None else _default_cuda()
    return NullStageCounters() if cuda is None else StageCudaCounters(cuda)
