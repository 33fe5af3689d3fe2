"""Which GPU a run uses: the entries of CUDA_VISIBLE_DEVICES, their NVML UUIDs, and the NVML handle
of the run's one GPU.

CUDA_VISIBLE_DEVICES lists indices ("0,2"), GPU UUIDs ("GPU-8a1b...", a unique prefix is enough)
or MIG UUIDs ("MIG-..."). An index is read as NVML's index, which is CUDA's only under
CUDA_DEVICE_ORDER=PCI_BUS_ID: whoever sets CUDA_VISIBLE_DEVICES for a worker sets that too.
``nvml`` is the pynvml module (tests pass a fake); None loads the real one.
"""

from __future__ import annotations

import os

from harness.measure.gpu._hw import _load_nvml, _NvmlSession, _text

_UUID_PREFIXES = ("GPU-", "MIG-")


def _valid_entry(entry: str) -> bool:
    return entry.isdigit() or entry.startswith(_UUID_PREFIXES)


def visible_devices(environ=None, nvml=None) -> list[str]:
    """The entries of CUDA_VISIBLE_DEVICES as given (an empty value: []), or, when it is unset,
    NVML's indices of every GPU as strings ("0", "1", ...); [] when NVML is unusable.

    As CUDA does, the list ends at the first entry that is neither an index nor a GPU-/MIG- UUID
    ("-1" hides every GPU)."""
    environ = os.environ if environ is None else environ
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return [str(i) for i in range(_device_count(nvml))]
    entries = []
    for entry in (e.strip() for e in value.split(",")):
        if not _valid_entry(entry):
            break
        entries.append(entry)
    return entries


def _device_count(nvml) -> int:
    nvml = _load_nvml(nvml)
    if nvml is None:
        return 0
    try:
        with _NvmlSession(nvml):
            return int(nvml.nvmlDeviceGetCount())
    except Exception:  # no driver, no NVML: no GPU to list
        return 0


def device_uuid(entry: str, nvml=None) -> str | None:
    """The full NVML UUID ("GPU-..." or "MIG-...") of one CUDA_VISIBLE_DEVICES entry; None when
    NVML is unusable or no device matches."""
    nvml = _load_nvml(nvml)
    if nvml is None:
        return None
    try:
        with _NvmlSession(nvml):
            handle = _handle(nvml, entry)
            return None if handle is None else _text(nvml.nvmlDeviceGetUUID(handle))
    except Exception:  # no driver, no such device
        return None


def run_device(nvml, environ=None):
    """The NVML handle of the run's one GPU: the first entry of CUDA_VISIBLE_DEVICES (``environ``,
    default os.environ), found by UUID, or by NVML index; NVML's first GPU when the variable is
    unset. None when none is found. Call it between nvmlInit and nvmlShutdown: the handle is
    valid only while NVML is initialised."""
    nvml = _load_nvml(nvml)
    entries = visible_devices(environ, nvml) if nvml is not None else []
    if not entries:
        return None
    try:
        return _handle(nvml, entries[0])
    except Exception:  # no such device
        return None


def _handle(nvml, entry: str):
    """The handle of one entry (NVML initialised); None when the entry matches no device."""
    if entry.isdigit():
        index = int(entry)
        return nvml.nvmlDeviceGetHandleByIndex(index) if index < nvml.nvmlDeviceGetCount() else None
    try:
        return nvml.nvmlDeviceGetHandleByUUID(entry.encode())  # bytes: both bindings take them
    except Exception:  # not a full UUID: CUDA also takes a unique prefix
        return _handle_by_prefix(nvml, entry)


def _handle_by_prefix(nvml, prefix: str):
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    matches = [h for h in handles if _text(nvml.nvmlDeviceGetUUID(h)).startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def parent_device(nvml, handle):
    """The physical GPU of a MIG instance's handle (clocks, power and throttle reasons are the
    GPU's); ``handle`` itself for a whole GPU, or when the binding cannot tell."""
    try:
        if nvml.nvmlDeviceIsMigDeviceHandle(handle):
            return nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle)
    except Exception:  # an old binding or driver without MIG calls
        pass
    return handle
