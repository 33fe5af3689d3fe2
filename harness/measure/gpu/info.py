"""The CUDA part of the environment fingerprint: device, capability, CUDA and driver versions."""

from __future__ import annotations

from harness.measure.gpu._hw import _default_cuda, _load_nvml, _NvmlSession, _text


def driver_version(nvml=None) -> str | None:
    """The NVIDIA driver version from NVML, or None."""
    nvml = _load_nvml(nvml)
    if nvml is None:
        return None
    try:
        with _NvmlSession(nvml):
            return _text(nvml.nvmlSystemGetDriverVersion())
    except Exception:  # no driver, no NVML: not an error here
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
