"""Resolving the hardware objects: the NVML module (pynvml) and ``torch.cuda``, both injectable.

Tests pass fakes for ``nvml`` and ``cuda``; without them these return the real modules, or None
when they are missing. Nothing heavy is imported at module import.

Two distributions install a module named ``pynvml``: nvidia-ml-py (a file, ``pynvml.py``) and the
old ``pynvml`` package (a folder, which merlin-core 23.8 and dask-cuda 23.8 require as
``pynvml<11.5``). With both installed the folder wins the import; ``nvml_origin`` says which one
was loaded.
"""

from __future__ import annotations

import functools
from pathlib import Path

_NVML_DISTRIBUTIONS = ("nvidia-ml-py", "pynvml")


def _load_nvml(nvml=None):
    """The given module, or the ``pynvml`` that ``import pynvml`` finds (which one: ``nvml_origin``);
    None when no NVML binding is installed."""
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def nvml_origin(nvml) -> dict:
    """Which NVML binding ``nvml`` is: {"distribution": "nvidia-ml-py" or "pynvml" (the installed
    distribution whose files hold the module), "version", "file"}. An object that is no installed
    module (a test's fake) has distribution None and file None."""
    file = getattr(nvml, "__file__", None)
    if file is None:
        return {"distribution": None, "version": getattr(nvml, "__version__", None), "file": None}
    distribution, version = _owner(str(Path(file).resolve()))
    return {"distribution": distribution, "version": version or getattr(nvml, "__version__", None),
            "file": file}


@functools.lru_cache(maxsize=8)
def _owner(file: str) -> tuple[str | None, str | None]:
    """(name, version) of the installed distribution among _NVML_DISTRIBUTIONS listing ``file``."""
    from importlib import metadata

    for name in _NVML_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if any(str(Path(str(dist.locate_file(f))).resolve()) == file for f in dist.files or ()):
            return name, dist.version
    return None, None


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
        except Exception:  # shutdown failures change nothing for the caller
            pass
        return False
