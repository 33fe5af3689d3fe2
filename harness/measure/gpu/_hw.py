"""Resolving the hardware objects: the NVML module (pynvml) and ``torch.cuda``, both injectable.

Tests pass fakes for ``nvml`` and ``cuda``; without them these return the real modules, or None
when they are missing. Nothing heavy is imported at module import.
"""

from __future__ import annotations


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
