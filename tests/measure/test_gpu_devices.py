"""The run's GPU (harness/measure/gpu/devices.py) with fake NVML: CUDA_VISIBLE_DEVICES entries,
their UUIDs, and the handle the sampler and the health checks read."""
from __future__ import annotations

import pytest

from harness.measure import gpu
from gpu_fakes import FakeGpu, FakeNvml


def _node(n=3):
    gpus = [FakeGpu() for _ in range(n)]
    return FakeNvml(gpus), gpus


@pytest.mark.parametrize("value, entries", [
    ("0", ["0"]),
    ("2,0", ["2", "0"]),
    (" 1 , 2 ", ["1", "2"]),
    ("GPU-fake-2", ["GPU-fake-2"]),
    ("MIG-4f1e,GPU-fake-0", ["MIG-4f1e", "GPU-fake-0"]),
    ("", []),
    ("-1", []),
    ("1,-1,2", ["1"]),  # CUDA stops at the first entry it cannot read
])
def test_visible_devices_are_the_entries_as_given(value, entries):
    nvml, _ = _node()
    assert gpu.visible_devices({"CUDA_VISIBLE_DEVICES": value}, nvml) == entries


def test_visible_devices_unset_lists_every_nvml_index():
    nvml, gpus = _node(3)
    assert gpu.visible_devices({}, nvml) == [str(i) for i in range(len(gpus))]
    assert nvml.calls["nvmlInit"] == nvml.calls["nvmlShutdown"] == 1


def test_visible_devices_unset_without_usable_nvml_is_empty():
    nvml, _ = _node()
    nvml.fail.add("nvmlInit")
    assert gpu.visible_devices({}, nvml) == []


def test_visible_devices_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-1,0")
    assert gpu.visible_devices(nvml=_node()[0]) == ["GPU-fake-1", "0"]


def test_device_uuid_of_an_index_a_uuid_a_prefix_and_a_mig_instance():
    nvml, gpus = _node(3)
    mig = FakeGpu(uuid="MIG-5c2a-0001", parent=gpus[1])
    nvml.migs.append(mig)
    assert gpu.device_uuid("2", nvml) == gpus[2].uuid
    assert gpu.device_uuid(gpus[0].uuid, nvml) == gpus[0].uuid
    assert gpu.device_uuid(mig.uuid, nvml) == mig.uuid


def test_device_uuid_of_a_unique_prefix():
    gpus = [FakeGpu(uuid="GPU-8a1b-aaaa"), FakeGpu(uuid="GPU-77c0-bbbb")]
    nvml = FakeNvml(gpus)
    assert gpu.device_uuid("GPU-77c0", nvml) == "GPU-77c0-bbbb"
    ambiguous = FakeNvml([FakeGpu(uuid="GPU-8a1b-aaaa"), FakeGpu(uuid="GPU-8a1b-cccc")])
    assert gpu.device_uuid("GPU-8a1b", ambiguous) is None


@pytest.mark.parametrize("entry", ["7", "GPU-nowhere", "MIG-nowhere"])
def test_device_uuid_none_when_nothing_matches(entry):
    nvml, _ = _node(2)
    assert gpu.device_uuid(entry, nvml) is None


def test_device_uuid_none_without_nvml():
    nvml, _ = _node()
    nvml.fail.add("nvmlInit")
    assert gpu.device_uuid("0", nvml) is None


@pytest.mark.parametrize("environ, index", [
    ({}, 0),  # unset: NVML's first GPU
    ({"CUDA_VISIBLE_DEVICES": "2"}, 2),
    ({"CUDA_VISIBLE_DEVICES": "1,0"}, 1),
    ({"CUDA_VISIBLE_DEVICES": "GPU-fake-2"}, 2),  # by UUID, not index 0
    ({"CUDA_VISIBLE_DEVICES": "GPU-fake-1,GPU-fake-2"}, 1),
])
def test_run_device_is_the_first_visible_entry(environ, index):
    nvml, gpus = _node(3)
    assert gpu.run_device(nvml, environ) is gpus[index]


def test_run_device_of_a_mig_instance_and_its_parent():
    nvml, gpus = _node(2)
    mig = FakeGpu(uuid="MIG-5c2a-0001", parent=gpus[1])
    nvml.migs.append(mig)
    handle = gpu.run_device(nvml, {"CUDA_VISIBLE_DEVICES": mig.uuid})
    assert handle is mig and gpu.parent_device(nvml, handle) is gpus[1]
    assert gpu.parent_device(nvml, gpus[0]) is gpus[0]


@pytest.mark.parametrize("value", ["", "-1", "5", "GPU-nowhere"])
def test_run_device_none_when_no_gpu_is_visible_or_found(value):
    nvml, _ = _node(2)
    assert gpu.run_device(nvml, {"CUDA_VISIBLE_DEVICES": value}) is None


def test_run_device_none_without_nvml():
    nvml, _ = _node()
    nvml.fail.add("nvmlInit")
    assert gpu.run_device(nvml, {}) is None


def test_parent_device_without_mig_calls_is_the_handle():
    nvml, gpus = _node(1)
    nvml.fail.add("is_mig")  # an old binding or driver
    assert gpu.parent_device(nvml, gpus[0]) is gpus[0]
