"""What decides which numeric kernels run, so that hosts that compute differently can be told apart.

Two hosts with the same CPU model string and the same packages can still produce different
numbers: numpy and torch pick kernels at run time from the CPU's instruction sets (numpy 1.26
sorts with AVX-512 x86-simd-sort where it can, which orders ties differently from its
introsort), and BLAS, oneDNN and the thread count change floating-point summation order.

``host()`` reads only /proc/cpuinfo and is safe in any process. ``collect()`` also imports
numpy and torch, so it belongs in the worker process, after the pipeline's imports stage, where
the worker's thread settings apply.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re

# Flags that select kernels (numpy dispatch, torch ATen CPU capability, oneDNN, BLAS); every
# avx512* and amx* flag counts too.
KERNEL_FLAGS = frozenset({"avx", "avx2", "fma", "f16c", "sse4_2", "avx_vnni", "asimd", "sve"})
_FLAG_PREFIXES = ("avx512", "amx")

# /proc/cpuinfo keys for the CPU identity: x86 first, then the arm equivalents.
_CPU_KEYS = {
    "vendor": ("vendor_id", "CPU implementer"),
    "family": ("cpu family", "CPU architecture"),
    "model": ("model", "CPU part"),
    "stepping": ("stepping", "CPU revision"),
    "model_name": ("model name",),
}


def read_cpuinfo(text: str | None = None) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (``text`` when given); {} where unreadable.

    Keys that precede the first processor block (arm's "Hardware", "Features" on some kernels)
    count when the block lacks them.
    """
    if text is None:
        try:
            with open("/proc/cpuinfo") as fh:
                text = fh.read()
        except OSError:
            return {}
    fields: dict[str, str] = {}
    seen_processor = False
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            continue
        if key == "processor":
            if seen_processor:
                break
            seen_processor = True
        fields.setdefault(key, value.strip())
    return fields


def _number(value: str | None):
    """Decimal strings as int (x86's family/model/stepping); anything else unchanged (arm's hex)."""
    return int(value) if value is not None and value.isdigit() else value


def cpu_identity(fields: dict[str, str]) -> dict:
    """{vendor, family, model, stepping, model_name}; None where /proc/cpuinfo has no such line."""
    def first(keys):
        return next((fields[k] for k in keys if k in fields), None)

    out = {name: first(keys) for name, keys in _CPU_KEYS.items()}
    for name in ("family", "model", "stepping"):
        out[name] = _number(out[name])
    return out


def isa(fields: dict[str, str]) -> list[str]:
    """Sorted kernel-selecting flags the CPU has (x86 "flags", arm "Features")."""
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return sorted(f for f in flags if f in KERNEL_FLAGS or f.startswith(_FLAG_PREFIXES))


def host(cpuinfo: str | None = None) -> dict:
    """The parts that need no import: {"cpu": cpu_identity, "isa": [...]}."""
    fields = read_cpuinfo(cpuinfo)
    return {"cpu": cpu_identity(fields), "isa": isa(fields)}


def numpy_info() -> dict:
    """numpy's version, the SIMD features its dispatcher found enabled, and the env override."""
    import numpy as np

    try:
        features = importlib.import_module("numpy.core._multiarray_umath").__cpu_features__
    except (ImportError, AttributeError):  # numpy 2 moved it
        features = importlib.import_module("numpy._core._multiarray_umath").__cpu_features__
    return {"version": np.__version__, "cpu_features": sorted(k for k, on in features.items() if on),
            "dispatch_disabled": os.environ.get("NPY_DISABLE_CPU_FEATURES")}


_BLAS_LINES = re.compile(r"\b(BLAS_INFO|LAPACK_INFO)\s*=\s*([^,\s]+)")
_BLAS_VERSIONS = (("mkl", re.compile(r"Intel\(R\) (?:oneAPI )?Math Kernel Library Version ([\w.]+)")),
                  ("openblas", re.compile(r"OpenBLAS ([\d.]+)")))
_ONEDNN = re.compile(r"(?:oneDNN|MKL-DNN)\s*\(?v?([\d.]+)")


def parse_torch_config(text: str) -> dict:
    """BLAS and oneDNN facts from ``torch.__config__.show()``: {"blas": {...}, "onednn": str|None}.

    ``blas`` has ``blas_info``/``lapack_info`` (the BLAS_INFO/LAPACK_INFO lines) and ``mkl`` or
    ``openblas`` (a version) where the text names one; keys absent from the text are left out.
    """
    blas = {key.lower(): value for key, value in _BLAS_LINES.findall(text)}
    for name, pattern in _BLAS_VERSIONS:
        m = pattern.search(text)
        if m:
            blas[name] = m.group(1)
    m = _ONEDNN.search(text)
    return {"blas": blas, "onednn": m.group(1) if m else None}


def torch_info() -> dict:
    """torch's version, ATen CPU capability, BLAS, oneDNN version and intra-op thread count."""
    import torch

    parsed = parse_torch_config(torch.__config__.show())
    mkldnn = getattr(torch.backends, "mkldnn", None)
    onednn = parsed["onednn"] if mkldnn is not None and mkldnn.is_available() else None
    return {"version": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "blas": parsed["blas"], "onednn": onednn, "threads": torch.get_num_threads()}


def gpu_info(device: str | None) -> dict:
    """Device name, compute capability, driver, CUDA, cuDNN and NCCL versions on a CUDA run; else {}.

    Only when ``device`` is "cuda": asking torch about the GPU creates a CUDA context, which a CPU
    run must not pay for (it would show in its memory measurements).
    """
    if device != "cuda":
        return {}
    import torch

    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(0)
    nccl = torch.cuda.nccl.version() if hasattr(torch.cuda, "nccl") else None
    return {"device_name": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "driver": _driver_version(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "nccl": ".".join(map(str, nccl)) if isinstance(nccl, tuple) else nccl}


def _driver_version() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:  # no NVML: the driver version is unknown, not an error
        return None


def fingerprint(numerics: dict) -> str:
    """16 hex digits of sha256 over everything but the CPU's marketing name and the fingerprint."""
    keys = {k: v for k, v in numerics.items() if k != "fingerprint"}
    keys["cpu"] = {k: v for k, v in (keys.get("cpu") or {}).items() if k != "model_name"}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:16]


def collect(device: str | None = None, cpuinfo: str | None = None) -> dict:
    """The full numerics record: cpu, isa, numpy, torch, gpu and their fingerprint.

    Imports numpy and torch: call it in the worker process (its thread settings are the run's).
    ``cpuinfo`` replaces /proc/cpuinfo's text (tests).
    """
    out = {**host(cpuinfo), "numpy": numpy_info(), "torch": torch_info(), "gpu": gpu_info(device)}
    out["fingerprint"] = fingerprint(out)
    return out
