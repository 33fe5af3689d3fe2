"""GPU and CPU determinism (harness/pipeline/determinism.py), with fake torch.cuda where needed."""
from __future__ import annotations

import os
import sys
import warnings
from types import SimpleNamespace

import pytest

from harness.pipeline import determinism

MiB = 2**20


@pytest.fixture
def restore_determinism(monkeypatch):
    import torch

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield torch
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[2:]
    determinism.nondeterministic_ops(clear=True)


def test_configure_determinism_on_cuda(restore_determinism):
    torch = restore_determinism
    seeds = []
    cupy = SimpleNamespace(random=SimpleNamespace(seed=seeds.append))
    notes = determinism.configure_determinism("cuda", 7, cupy=cupy)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.benchmark is False
    assert seeds == [7]
    assert any("CUBLAS_WORKSPACE_CONFIG" in n for n in notes) and any("cupy" in n for n in notes)


def test_configure_determinism_on_cpu_leaves_cublas_and_cupy(restore_determinism):
    notes = determinism.configure_determinism("cpu", 7, cupy=SimpleNamespace())  # cupy.random missing: never touched
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert not any("cupy" in n for n in notes)


def test_configure_determinism_notes_missing_cupy(restore_determinism, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    notes = determinism.configure_determinism("cuda", 7)
    assert any("cupy not importable" in n for n in notes)


def test_nondeterministic_ops_are_recorded(restore_determinism):
    from torch._prims_common import alert_not_deterministic  # what torch's own ops call

    determinism.configure_determinism("cpu", 1)
    determinism.nondeterministic_ops(clear=True)
    with warnings.catch_warnings(record=True) as shown:
        determinism.configure_determinism("cpu", 1)  # re-hooks inside this scope
        alert_not_deterministic("index_add_cuda_")
        alert_not_deterministic("scatter_add_cuda_kernel")
        # torch 2.11's scaled-dot-product attention on an H200 warned this way (the GPU smoke, 2026-12-04)
        warnings.warn("Memory Efficient attention defaults to a non-deterministic algorithm. To explicitly enable "
                      "determinism call torch.use_deterministic_algorithms(True, warn_only=False).", UserWarning,
                      stacklevel=1)
    assert determinism.nondeterministic_ops() == ["Memory Efficient attention", "index_add_cuda_",
                                                  "scatter_add_cuda_kernel"]
    assert len(shown) == 3  # still passed on to the previous handler


def test_configure_determinism_survives_a_broken_cupy(restore_determinism):
    def broken(seed):
        raise RuntimeError("cudaErrorInsufficientDriver")

    notes = determinism.configure_determinism("cuda", 7, cupy=SimpleNamespace(random=SimpleNamespace(seed=broken)))
    assert any("cupy could not be seeded" in n and "InsufficientDriver" in n for n in notes)
