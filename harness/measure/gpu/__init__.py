"""GPU measurement: CUDA-synchronized timing, torch memory counters, NVML sampling, GPU health.

Everything here also works without a GPU: functions return ``{}``/``None`` or no-op objects.
Hardware is reached through two injectable objects, so tests replace only the hardware calls:
``nvml`` (the pynvml module; ``nvml_origin`` says which binding it is) and ``cuda`` (``torch.cuda``).
torch, pynvml, psutil and cupy are imported inside functions; importing this package is cheap.

One module per job; this package re-exports their public names, so ``from harness import gpu;
gpu.X`` works for all of them:

- ``devices``: the run's GPU (``visible_devices``, ``device_uuid``, ``run_device``);
- ``info``: the CUDA part of the environment fingerprint (``cuda_info``, ``driver_version``);
- ``counters``: synchronization and per-stage memory peaks (``stage_counters``);
- ``steps``: step timing (``step_timer``, ``attach_step_timer``/``detach_step_timer``);
- ``sampler``: NVML memory sampling of the run's GPU on a thread (``NvmlSampler``);
- ``health``: clocks, power, temperature, throttling (``gpu_health``, ``merge_health``);
- determinism is the pipeline's (``harness.pipeline.determinism``), not a measurement: it is not here.
"""

from __future__ import annotations

from harness.measure.gpu._hw import _default_cuda, _load_nvml, nvml_origin
from harness.measure.gpu.counters import (
    NullStageCounters,
    StageCudaCounters,
    cuda_synchronize,
    stage_counters,
)
from harness.measure.gpu.devices import device_uuid, parent_device, run_device, visible_devices
from harness.measure.gpu.health import (
    CLOCK_REASONS,
    THROTTLING_REASONS,
    clock_reasons_mask,
    decode_reasons,
    gpu_health,
    is_throttled,
    merge_health,
)
from harness.measure.gpu.info import cuda_info, driver_version
from harness.measure.gpu.sampler import (
    DEFAULT_SAMPLE_INTERVAL_S,
    MAX_SAMPLE_INTERVAL_S,
    NvmlSampler,
    process_tree,
)
from harness.measure.gpu.steps import (
    TRAIN_WARMUP_STEPS,
    CudaEventTimer,
    StepTiming,
    attach_step_timer,
    detach_step_timer,
    step_timer,
    step_timer_callback,
)

__all__ = [
    "CLOCK_REASONS", "DEFAULT_SAMPLE_INTERVAL_S", "MAX_SAMPLE_INTERVAL_S",
    "THROTTLING_REASONS", "TRAIN_WARMUP_STEPS", "CudaEventTimer", "NullStageCounters", "NvmlSampler",
    "StageCudaCounters", "StepTiming", "_default_cuda", "_load_nvml", "attach_step_timer", "clock_reasons_mask",
    "cuda_info", "cuda_synchronize", "decode_reasons", "detach_step_timer", "device_uuid", "driver_version",
    "gpu_health", "is_throttled", "merge_health", "nvml_origin", "parent_device", "process_tree", "run_device",
    "stage_counters", "step_timer", "step_timer_callback", "visible_devices",
]
