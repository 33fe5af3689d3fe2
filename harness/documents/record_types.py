"""The run record's types: what each field of ``schemas/run-record.schema.json`` holds.

Records stay plain JSON dicts in memory; these TypedDicts name their keys and say what each one
means. ``tests/documents/test_record_types.py`` checks them against the JSON Schema in both
directions (property names, required keys), so the two cannot drift apart. ``RunRecord``'s field
order is the order ``record.build`` writes. Objects the schema leaves open (config, faults, gpu,
checkpoint, scale, environment.cuda) are plain dicts.
"""

# No ``from __future__ import annotations``: TypedDict reads NotRequired from the real annotations.
import sys
from typing import Literal

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict  # novermin (guarded: 3.10 takes typing_extensions)
else:  # Python 3.10 (the Merlin containers): TypedDict must be this one to know NotRequired
    from typing_extensions import NotRequired, TypedDict

Status = Literal["ok", "failed"]
Unit = Literal["s", "rows/s", "samples/s", "bytes", "1", "count"]
MeasurementKind = Literal["time", "throughput", "memory", "metric", "loss", "count"]
StageStatus = Literal["ok", "failed", "skipped"]
FailureKind = Literal["timeout", "nan_loss", "oom", "exception", "crash", "too_small", "interrupted"]
StepClock = Literal["cuda_event", "perf_counter"]
EtlBackend = Literal["pandas", "cudf"]


class Measurement(TypedDict):
    name: str  # "<stage, 'total' or 'quality'>.<metric with unit suffix>", e.g. "etl.wall_s"
    unit: Unit  # follows from the name's suffix (record.measurement)
    value: float  # median of samples
    samples: list[float]  # one value per repetition (pooled over runs in a baseline); at least one
    higher_is_better: bool  # True for throughputs and quality metrics
    kind: MeasurementKind  # what the policies judge it as


class Stage(TypedDict):
    name: str  # the stage's name: imports, synthetic, etl, splits, schema, model, train, evaluate, ...
    status: StageStatus  # "failed": the stage the run failed in
    start_s: float  # offset from the run's start (first repetition)
    end_s: float  # offset from the run's start; 0.0 when the stage never ended


class Day(TypedDict):
    train_day: int  # the day trained on
    eval_day: int  # the day evaluated on (train_day + 1)
    train_loss: float  # mean training loss of the day
    eval_loss: NotRequired[float]  # evaluation loss
    train_sessions: int  # training sessions of the day
    eval_sessions: int  # validation sessions scored
    train_wall_s: NotRequired[float]  # the day's train stage
    eval_wall_s: NotRequired[float]  # the day's evaluate stage
    metrics: dict[str, float]  # ndcg_at_20, recall_at_20, ... on eval_day
    warmup_steps: NotRequired[int]  # first steps of the day, counted but not timed
    timed_steps: NotRequired[int]  # steps after the warm-up
    timed_samples: NotRequired[int]  # samples in the timed steps
    timed_s: NotRequired[float]  # time of the timed steps
    step_clock: NotRequired[StepClock]  # how steps were timed: CUDA events on a GPU, perf_counter otherwise


class Git(TypedDict, total=False):
    commit: str | None  # HEAD's hash; None outside a git checkout
    dirty: bool | None  # uncommitted changes; None outside a git checkout


class NumericsCpu(TypedDict):
    vendor: str | int | None  # /proc/cpuinfo of the first processor; None where absent
    family: str | int | None
    model: str | int | None
    stepping: str | int | None
    model_name: str | int | None  # not part of the numerics fingerprint


class NumpyInfo(TypedDict):
    version: str  # numpy.__version__
    cpu_features: list[str]  # SIMD features numpy's dispatcher enabled
    dispatch_disabled: str | None  # NPY_DISABLE_CPU_FEATURES


class TorchInfo(TypedDict):
    version: str  # torch.__version__
    cpu_capability: str  # the CPU kernels torch selected (AVX2, AVX512, ...)
    blas: dict  # blas_info, lapack_info, mkl or openblas version, as torch.__config__.show() says
    onednn: str | None  # oneDNN version
    threads: int  # torch.get_num_threads() in the worker


class Numerics(TypedDict):
    cpu: NumericsCpu  # the processor's identity
    isa: list[str]  # sorted kernel-selecting CPU flags (avx512*, amx*, avx2, fma, ...)
    numpy: NumpyInfo  # numpy's dispatch
    torch: TorchInfo  # torch's kernels and threads
    gpu: dict  # device_name, compute_capability, driver, cuda, cudnn, nccl on a CUDA run; empty otherwise
    fingerprint: str  # 16 hex digits of sha256 over all of the above but cpu.model_name


class Environment(TypedDict):
    python: str  # platform.python_version()
    os: str  # "<system> <release>"
    cpu_model: str  # the processor's model name
    cpu_count: int  # logical CPUs
    ram_bytes: int  # physical memory
    packages: dict[str, str | None]  # 19 named packages (None when not installed); kept for older readers
    distributions: NotRequired[dict[str, str]]  # every installed distribution; absent in older records
    cuda: NotRequired[dict]  # harness.measure.gpu.cuda_info() on a CUDA run; empty otherwise
    git: Git  # the checkout measured
    machine_class: str  # the baseline folder name, e.g. cpu-2c-x86_64
    fingerprint: str  # hash of python, cpu model, distributions (packages in older records) and cuda
    numerics: NotRequired[Numerics]  # read in the worker; absent in older records and early failures
    numerics_fingerprint: NotRequired[str]  # numerics.fingerprint, for easy access


class MachineSpeed(TypedDict):
    speed_s: list[float]  # machine speed: a fixed CPU workload timed before each repetition


FingerprintStage = Literal["synthetic", "etl_output", "splits", "model_weights", "metrics"]  # Fingerprints' keys


class Fingerprints(TypedDict, total=False):
    synthetic: str  # the raw synthetic parquet data's content; absent in older records
    etl_output: str  # the ETL output's content
    splits: str  # every split file's relative path and content; absent in older records
    model_weights: str  # the trained weights
    metrics: str  # every day's metrics and training loss


class Timeline(TypedDict, total=False):
    t_s: list[float]  # host memory sample times, seconds since the start (first repetition)
    rss_bytes: list[float]  # the worker tree's RSS at t_s
    gpu_t_s: list[float]  # NVML sample times
    gpu_used_bytes: list[float]  # the worker's GPU memory at gpu_t_s


class Failure(TypedDict):
    stage: str  # the stage that failed, or "pipeline"
    kind: FailureKind  # harness.errors.FAILURE_KINDS
    message: str  # what happened, for a person


class RunRecord(TypedDict):
    schema_version: Literal[2]  # record.FORMAT.current
    kind: Literal["t4rec-bench/run"]  # record.KIND
    run_id: str  # unique: start time and a random suffix
    profile: str  # the named profile run (smoke, ci, nightly, gpu-smoke, ...)
    status: Status  # "failed" when any repetition failed
    started_at: str  # ISO 8601 with time zone
    finished_at: str  # ISO 8601 with time zone, the last repetition's end
    command: NotRequired[str]  # the command line that produced it
    config: dict  # the full run configuration (RunConfig.to_dict())
    config_hash: str  # hash of the whole config
    workload_hash: str  # hash of the config fields that define the computation: what makes runs comparable
    faults: dict  # active injected faults; empty when none
    instrumented: bool  # memory sampled and machine speed probed
    repeat: int  # repetitions pooled into the measurements
    environment: Environment  # where it ran
    machine_speed: NotRequired[MachineSpeed]  # the machine-speed probe's reading per repetition
    gpu: NotRequired[dict | None]  # GPU health per run; None without CUDA
    stages: list[Stage]  # the stages in the order they ran (first repetition)
    measurements: list[Measurement]  # every figure, samples pooled over repetitions
    days: list[Day]  # one per trained and evaluated day
    checkpoint: NotRequired[dict | None]  # the save-and-reload check; None when the run failed before it
    fingerprints: Fingerprints  # content hashes of each stage's output
    timeline: NotRequired[Timeline]  # memory over time, downsampled keeping peaks
    failure: Failure | None  # why the run failed; None when it did not
    determinism_notes: NotRequired[list[str]]  # the determinism settings applied, and what could not be
    nondeterministic_ops: NotRequired[list[str]]  # torch ops that warned of no deterministic version, over
    # every repetition (cuda runs: warn_only; on cpu such an op fails the run); absent in older records
    notes: NotRequired[list[str]]  # plain statements about how the run ran
    scale: NotRequired[dict]  # engines used: dask workers, DDP world size; absent for a plain run
    etl_backend: NotRequired[EtlBackend]  # what the ETL ran on: pandas (CPU) or cudf (GPU); absent in older records
