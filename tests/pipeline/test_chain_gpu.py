"""The pipeline's GPU path on a CPU machine (issue #20): the torch import inside the imports stage on
both devices, a cuda run refused without a usable CUDA torch, one GPU for transformers, a Dask
cluster that matches the ETL backend, and nondeterministic ops listed for the record."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))  # gpu_fakes, beside the GPU tests

from gpu_fakes import FakeCuda  # noqa: E402

from harness.config import ScaleConfig, TrainConfig  # noqa: E402
from harness.errors import StageFailure  # noqa: E402
from harness.pipeline import chain, determinism, scale  # noqa: E402
from harness.pipeline.stages import train  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numpy", "pandas", "pyarrow", "psutil", "transformers", "nvtabular", "cudf", "cupy")

# In a fresh interpreter, as the worker: what is imported before the imports stage, then during it.
_PROBE = """
import json, sys
from harness.config import build_config
from harness.pipeline import chain
heavy = {heavy!r}
events = []
s, result = chain.before_imports(build_config("smoke", {{"device": sys.argv[1]}}), events.append)
before = sorted(m for m in heavy if m in sys.modules)
s.run("imports", chain._import_stack)
end = [e for e in events if type(e).__name__ == "StageEnd"][0]
print(json.dumps({{"before": before, "torch_in_stage": "torch" in sys.modules, "measured": sorted(end.measured)}}))
"""


def _probe(device: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), device], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_torch_is_first_imported_inside_the_imports_stage_on_both_devices():
    cpu, cuda = _probe("cpu"), _probe("cuda")
    assert "torch" not in cpu["before"] and cpu["before"] == cuda["before"]  # numpy, psutil: as before on cpu
    assert cpu["torch_in_stage"] and cuda["torch_in_stage"]
    assert cpu["measured"] == cuda["measured"] == ["cpu_s", "wall_s"]  # no CUDA counters around the imports


def test_cuda_counters_start_after_the_imports_stage():
    cuda = FakeCuda()
    counters = chain._CudaCountersAfterImports()
    counters.begin()
    assert counters.end() == {} and cuda.log == []  # the imports stage: CUDA untouched
    counters.take_up(cuda)
    counters.begin()
    cuda.allocate(5)
    assert counters.end() == {"torch_peak_allocated_bytes": 5, "torch_peak_reserved_bytes": 5}
    assert cuda.log[:2] == ["synchronize", "reset_peak_memory_stats"]


def test_a_cuda_run_without_a_usable_gpu_fails_before_training():
    cpu_build = SimpleNamespace(__version__="2.13.0+cpu", version=SimpleNamespace(cuda=None),
                                cuda=SimpleNamespace(is_available=lambda: False))
    with pytest.raises(StageFailure, match=r"torch 2.13.0\+cpu \(a CPU build\) sees no usable GPU"):
        chain.require_cuda(cpu_build)
    chain.require_cuda(SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: True)))  # passes
    import torch

    if not torch.cuda.is_available():  # this machine's real torch
        with pytest.raises(StageFailure, match="sees no usable GPU"):
            chain.require_cuda()


class _Recorder:
    def __init__(self, kind, calls):
        self.kind, self.calls = kind, calls

    def __call__(self, **kwargs):
        self.calls.append((self.kind, kwargs))
        return SimpleNamespace(close=lambda: None)


@pytest.mark.parametrize("backend, kind", [("pandas", "LocalCluster"), ("cudf", "LocalCUDACluster")])
def test_the_dask_cluster_matches_the_etl_backend(monkeypatch, tmp_path, backend, kind):
    import distributed

    calls = []
    fake_dask_cuda = ModuleType("dask_cuda")
    fake_dask_cuda.LocalCUDACluster = _Recorder("LocalCUDACluster", calls)
    monkeypatch.setitem(sys.modules, "dask_cuda", fake_dask_cuda)
    monkeypatch.setattr(distributed, "LocalCluster", _Recorder("LocalCluster", calls))
    client = SimpleNamespace(wait_for_workers=lambda n, timeout: None)
    monkeypatch.setattr(distributed, "Client", lambda cluster: client)
    cluster = scale.start_dask(ScaleConfig(cluster="local:2"), backend, tmp_path, gpus="GPU-a,GPU-b")
    assert cluster.kind == kind == calls[0][0] and calls[0][1]["n_workers"] == 2
    if kind == "LocalCUDACluster":
        assert calls[0][1]["CUDA_VISIBLE_DEVICES"] == "GPU-a,GPU-b"


def test_transformers_sees_several_gpus_and_the_trainer_uses_one(monkeypatch, tmp_path):
    import torch
    import transformers4rec.torch as t4r_torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)

    class Trainer:  # the real one's device set-up (args._setup_devices), without a model
        def __init__(self, model, args, **kwargs):
            self.args = args
            args._setup_devices  # noqa: B018 - transformers' Trainer.__init__ does this

        def remove_callback(self, cls):
            pass

    monkeypatch.setattr(t4r_torch, "Trainer", Trainer)
    from transformers4rec.config.trainer import T4RecTrainingArguments

    assert T4RecTrainingArguments(output_dir=str(tmp_path), report_to=[]).n_gpu == 2  # finding 2: DataParallel
    trainer = train.make_trainer(TrainConfig(), None, None, tmp_path / "t", 0, "cuda")
    assert trainer.args.n_gpu == 1 and trainer.args.train_batch_size == TrainConfig().train_batch_size


@pytest.fixture
def warn_only():
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    determinism.nondeterministic_ops(clear=True)
    yield torch
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    determinism.nondeterministic_ops(clear=True)


def test_a_real_torch_op_without_a_deterministic_implementation_is_listed(warn_only):
    torch = warn_only
    with warnings.catch_warnings(record=True) as shown:
        determinism.configure_determinism("cpu", 1)  # warn_only, as on cuda
        torch.zeros(4).put_(torch.tensor([1]), torch.tensor([2.0]))  # put_(accumulate=False): no deterministic kernel
        fields = chain.nondeterminism()
    assert fields == {"nondeterministic_ops": ["put_"]}
    assert any("put_" in str(w.message) for w in shown)  # still shown, once
