"""Which NVML binding ``import pynvml`` loads (harness/measure/gpu/_hw.py): nvidia-ml-py's file
``pynvml.py`` or the old ``pynvml`` package, whose folder shadows that file when both are installed
(merlin-core 23.8 and dask-cuda 23.8 require ``pynvml<11.5``). The truth is read from this
environment's installed distributions, not typed in."""
from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

from harness.measure import gpu
from gpu_fakes import FakeNvml


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _spec():
    spec = importlib.util.find_spec("pynvml")
    if spec is None:
        pytest.skip("no NVML binding is installed here")
    return spec


def test_nvml_origin_names_the_distribution_import_finds():
    spec = _spec()
    # a folder (submodule_search_locations) is the old pynvml package; a file is nvidia-ml-py's pynvml.py
    expected = "pynvml" if spec.submodule_search_locations is not None else "nvidia-ml-py"
    module = gpu._load_nvml()
    origin = gpu.nvml_origin(module)
    assert origin == {"distribution": expected, "version": metadata.version(expected), "file": module.__file__}
    assert Path(origin["file"]).resolve() == Path(spec.origin).resolve()


def test_the_pynvml_package_shadows_nvidia_ml_py_when_both_are_installed():
    spec = _spec()
    if not (_installed("pynvml") and _installed("nvidia-ml-py")):
        pytest.skip("only one NVML binding is installed here: nothing is shadowed")
    package_dir = Path(metadata.distribution("pynvml").locate_file("pynvml"))
    module_file = Path(metadata.distribution("nvidia-ml-py").locate_file("pynvml.py"))
    if package_dir.parent.resolve() != module_file.parent.resolve():
        pytest.skip("the two bindings are installed in different folders: sys.path order decides")
    assert gpu.nvml_origin(gpu._load_nvml())["distribution"] == "pynvml"
    assert Path(spec.origin).resolve() == (package_dir / "__init__.py").resolve()


def test_the_loaded_binding_takes_a_uuid_as_bytes():
    # the old package passes the UUID straight to ctypes.c_char_p: only bytes get past it (to the
    # uninitialised-NVML error); devices.py therefore always passes bytes
    _spec()
    nvml = gpu._load_nvml()
    with pytest.raises(nvml.NVMLError):
        nvml.nvmlDeviceGetHandleByUUID(b"GPU-00000000-0000-0000-0000-000000000000")


def test_nvml_origin_of_an_injected_object_names_no_distribution():
    assert gpu.nvml_origin(FakeNvml([])) == {"distribution": None, "version": None, "file": None}
    assert gpu._load_nvml(FakeNvml([])) is not None
