"""The GPUs a cuda run's worker is given, and the checks a run must pass before any worker starts
(harness/run/runner.py calls ``preflight`` once per run)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.config import RunConfig
from harness.errors import HarnessError


@dataclass(frozen=True)
class GpuPlan:
    """The GPUs a cuda run's worker is given: ``variables`` for its environment, ``note`` for the record."""

    variables: dict
    note: str


def gpu_plan(config: RunConfig, environ=None, nvml=None, cudf: bool | None = None, torch_count: int = 0) -> GpuPlan:
    """One GPU per training process: CUDA_DEVICE_ORDER=PCI_BUS_ID and CUDA_VISIBLE_DEVICES = the UUIDs
    of the first ``scale.nproc`` visible GPUs (harness.measure.gpu.visible_devices of ``environ``), so a
    single-process run sees one GPU (transformers wraps the model in DataParallel when it sees more).
    A LocalCUDACluster (the ETL on cuDF: ``cudf``, default whether cudf is installed) gets the first
    N visible GPUs through scale.ETL_GPUS_VARIABLE. Where NVML lists none and CUDA_VISIBLE_DEVICES is
    unset, torch's ``torch_count`` GPUs count, by index. HarnessError when fewer are visible than asked."""
    from harness.measure import gpu
    from harness.pipeline import chain, scale

    environ = os.environ if environ is None else environ
    visible = gpu.visible_devices(environ, nvml)
    if not visible and "CUDA_VISIBLE_DEVICES" not in environ:
        visible = [str(i) for i in range(torch_count)]
    cudf = chain.has_cudf() if cudf is None else cudf
    nproc = config.scale.nproc
    etl_gpus = scale.cluster_workers(config.scale.cluster) if cudf and config.scale.cluster else 0
    where = _refuse_too_few_gpus(config, len(visible), etl_gpus, environ.get("CUDA_VISIBLE_DEVICES"))
    ids = [gpu.device_uuid(entry, nvml) or entry for entry in visible[:max(nproc, etl_gpus)]]
    variables = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(ids[:nproc])}
    if etl_gpus:
        variables[scale.ETL_GPUS_VARIABLE] = ",".join(ids[:etl_gpus])
    which = "one GPU" if nproc == 1 else f"{nproc} GPUs, one per DDP process,"
    return GpuPlan(variables, f"the worker sees {which} of the {len(visible)} visible ({where}): "
                              f"{', '.join(ids[:nproc])}")


def _refuse_too_few_gpus(config: RunConfig, visible: int, etl_gpus: int, shown: str | None) -> str:
    """HarnessError when ``visible`` GPUs cannot give each DDP process (and each LocalCUDACluster
    worker) its own; else where the visible GPUs were read, for the note."""
    where = f"CUDA_VISIBLE_DEVICES={shown!r}" if shown is not None else "NVML"
    nproc = config.scale.nproc
    if visible < nproc:
        raise HarnessError(f"scale.nproc={nproc}: {visible} GPU(s) visible ({where}), and each DDP process "
                           f"needs its own: lower --nproc to at most {visible} or make more GPUs visible")
    if visible < etl_gpus:
        raise HarnessError(f"scale.cluster={config.scale.cluster!r}: a LocalCUDACluster (the ETL runs on cuDF) "
                           f"has one worker per GPU and {visible} GPU(s) are visible ({where})")
    return where


def preflight(config: RunConfig, environment: dict, environ=None, nvml=None) -> GpuPlan | None:
    """Checks a run must pass before any worker starts; the cuda worker's GPUs (None on cpu).
    HarnessError (one line) when torch cannot use CUDA or fewer GPUs are visible than the run needs."""
    if config.device != "cuda":
        return None
    if not environment.get("cuda"):
        raise HarnessError(f"--device cuda: {_no_cuda_reason()}; install a CUDA build of torch or run "
                           f"with --device cpu")
    return gpu_plan(config, environ, nvml, torch_count=environment["cuda"].get("device_count", 0))


def _no_cuda_reason() -> str:
    """Why torch in this environment cannot use a GPU (it is imported only for a cuda run)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.version.cuda:
        return f"torch {torch.__version__} is a CPU build (torch.version.cuda is None)"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU (torch.cuda.is_available() is False)"
