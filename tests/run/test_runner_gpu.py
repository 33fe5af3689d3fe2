"""The cuda worker's start (harness/run/gpus.py, harness/run/runner.py) with fake NVML: one GPU per
training process, nproc against the visible GPUs, a torch without CUDA refused, and the determinism
variables in the worker's environment before it starts (issue #20, findings 2, 3, 4 and 9)."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))  # gpu_fakes, beside the GPU tests

from gpu_fakes import FakeGpu, FakeNvml  # noqa: E402

from harness.config import build_config  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.pipeline import scale  # noqa: E402
from harness.run import gpus, runner  # noqa: E402

CUDA_ENV = {"cuda": {"device_count": 4, "device_name": "NVIDIA H100 80GB HBM3"}}  # environment.cuda of a GPU host


def _config(nproc=1, cluster="", seed=42):
    return build_config("smoke", {"device": "cuda", "scale.nproc": nproc, "scale.cluster": cluster, "seed": seed})


def _node(n):
    return FakeNvml([FakeGpu() for _ in range(n)])


@pytest.mark.parametrize("n_gpus", [1, 2, 4])
def test_a_single_process_run_sees_only_the_first_visible_gpu_by_uuid(n_gpus):
    plan = gpus.gpu_plan(_config(), environ={}, nvml=_node(n_gpus), cudf=False)
    assert plan.variables == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "GPU-fake-0"}
    assert "one GPU" in plan.note and f"of the {n_gpus} visible" in plan.note and "GPU-fake-0" in plan.note


def test_two_ddp_processes_see_the_first_two_visible_gpus_in_the_order_given():
    env = runner.worker_env(_config(nproc=2), gpus.gpu_plan(
        _config(nproc=2), environ={"CUDA_VISIBLE_DEVICES": "3,1,0"}, nvml=_node(4), cudf=False).variables,
        environ={"CUDA_VISIBLE_DEVICES": "3,1,0"})
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-fake-3,GPU-fake-1" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_an_entry_nvml_cannot_name_is_passed_on_as_given():
    plan = gpus.gpu_plan(_config(), environ={"CUDA_VISIBLE_DEVICES": "MIG-4f1e"}, nvml=_node(1), cudf=False)
    assert plan.variables["CUDA_VISIBLE_DEVICES"] == "MIG-4f1e"


def test_without_nvml_torch_s_devices_count_by_index():
    plan = gpus.gpu_plan(_config(nproc=2), environ={}, nvml=_node(0), cudf=False, torch_count=2)
    assert plan.variables["CUDA_VISIBLE_DEVICES"] == "0,1"


@pytest.mark.parametrize("n_gpus, environ", [(1, {}), (4, {"CUDA_VISIBLE_DEVICES": "2"}),
                                             (4, {"CUDA_VISIBLE_DEVICES": ""})])
def test_more_processes_than_visible_gpus_is_one_error_before_any_run(n_gpus, environ):
    with pytest.raises(HarnessError, match=r"scale.nproc=2: [01] GPU\(s\) visible .*lower --nproc") as err:
        gpus.preflight(_config(nproc=2), CUDA_ENV, environ=environ, nvml=_node(n_gpus))
    assert "\n" not in str(err.value)


def test_a_cudf_dask_cluster_gets_its_own_gpus_and_a_pandas_one_none():
    plan = gpus.gpu_plan(_config(cluster="local:3"), environ={}, nvml=_node(4), cudf=True)
    assert plan.variables[scale.ETL_GPUS_VARIABLE] == "GPU-fake-0,GPU-fake-1,GPU-fake-2"
    assert plan.variables["CUDA_VISIBLE_DEVICES"] == "GPU-fake-0"  # training still sees one
    assert scale.ETL_GPUS_VARIABLE not in gpus.gpu_plan(_config(cluster="local:3"), environ={}, nvml=_node(4),
                                                          cudf=False).variables
    with pytest.raises(HarnessError, match="LocalCUDACluster"):
        gpus.gpu_plan(_config(cluster="local:3"), environ={}, nvml=_node(2), cudf=True)


def test_cpu_runs_need_no_gpu_plan():
    assert gpus.preflight(build_config("smoke", {"device": "cpu", "scale.nproc": 2}), {"cuda": {}}) is None


def test_device_cuda_without_a_cuda_torch_is_refused_before_any_worker(monkeypatch):
    import torch

    def no_worker(*args, **kwargs):
        raise AssertionError("a worker was started")

    monkeypatch.setattr(runner, "_run_once", no_worker)
    if torch.cuda.is_available():
        pytest.skip("this torch sees a GPU")
    with pytest.raises(HarnessError, match=r"--device cuda: torch .*(CPU build|sees no GPU)") as err:
        runner.run(_config())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_determinism_variables_are_in_the_worker_s_environment_before_it_starts(device):
    config = dataclasses.replace(_config(seed=7), device=device)
    env = runner.worker_env(config, environ={"PATH": "/bin"})
    assert env["PYTHONHASHSEED"] == "7"
    assert env.get("CUBLAS_WORKSPACE_CONFIG") == (":4096:8" if device == "cuda" else None)
    kept = runner.worker_env(config, environ={"CUBLAS_WORKSPACE_CONFIG": ":16:8"})
    assert kept["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # a deterministic value the user set stays


def test_the_worker_reads_pythonhashseed_at_start():
    env = runner.worker_env(_config(seed=7), environ={"PATH": "/usr/bin:/bin"})
    code = "print(hash('t4rec'))"
    runs = {subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout
            for _ in range(3)}
    assert len(runs) == 1  # the same string hash in every process (random without PYTHONHASHSEED)


# a baseline from before records carried etl_backend and nondeterministic_ops (a frozen copy of
# baselines/cpu-2c-x86_64/history/ci-20261202T215446.json)
BASELINE = Path(__file__).resolve().parents[2] / "tests" / "data" / "old_documents" / "ci-20261202T215446.json"


def test_etl_backend_and_nondeterministic_ops_are_optional_record_fields():
    import json

    from harness.documents import record

    old = record.upgrade(json.loads(BASELINE.read_text())["record"])
    record.validate(old)  # older records, without them, stay valid
    record.validate({**old, "etl_backend": "pandas", "nondeterministic_ops": ["index_add_cuda_"]})
    with pytest.raises(HarnessError, match="etl_backend"):
        record.validate({**old, "etl_backend": "rapids"})


def test_a_cuda_run_s_gpu_plan_is_its_first_note(tmp_path, monkeypatch):
    """Every cuda run hands _run_once a GpuPlan, whose note is the record's first. Here the worker is a
    process that exits at once (no GPU needed): the plan's note is kept and the run is a crash."""
    from harness.output.progress import Progress

    real_popen = subprocess.Popen
    monkeypatch.setattr(runner.subprocess, "Popen",
                        lambda argv, **kw: real_popen([sys.executable, "-c", "pass"], **kw))
    plan = gpus.GpuPlan({"CUDA_VISIBLE_DEVICES": "GPU-fake-0"}, "the worker sees one GPU of the 1 visible")
    config = build_config("smoke", {"device": "cpu", "instrument": False})
    watch, _, _ = runner._run_once(config, tmp_path, Progress(enabled=False), plan)
    assert watch.notes[0] == plan.note
    assert watch.failure["kind"] == "crash" and "without a result" in watch.failure["message"]
