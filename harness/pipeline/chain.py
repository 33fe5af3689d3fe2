"""The pipeline, stage by stage, as run inside a worker process.

It only chains the stage functions; ``StageMeter`` measures each call from outside and
sends events to the parent (harness.run.runner), which keeps the watchdog and the record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import types
import warnings
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.errors import StageFailure
from harness.measure import events, machine_speed
from harness.measure.meters import StageMeter
from harness.pipeline import scale

STAGE_FRAME = "stage__"  # code name prefix of the frame each stage runs in (``_stage_frame``)


def _apply_faults(config: RunConfig, name: str, measured: dict, t0: float) -> None:
    faults = config.faults
    if faults.hang_stage == name:
        threading.Event().wait()  # blocks forever: the parent's watchdog must end it
    if faults.slowdown_stage == name and faults.slowdown_fraction > 0:
        _planted_slowdown(faults.slowdown_kind, faults.slowdown_fraction * (time.perf_counter() - t0))


def _planted_slowdown(kind: str, extra_s: float) -> None:
    """The planted slowdown, in a function of its own so that a profile names it: ``extra_s`` seconds
    of sleep, or of spinning (the stage's CPU time then grows with its wall time, as with slower code)."""
    if kind == "sleep":
        time.sleep(extra_s)
        return
    end = time.thread_time() + extra_s
    while time.thread_time() < end:
        pass


def _stage_call(config: RunConfig, name: str, fn, args, measured: dict):
    """One stage's work and its fault knob; it runs under a code name per stage (``_stage_frame``)."""
    t0 = time.perf_counter()
    out = fn(*args)
    _apply_faults(config, name, measured, t0)
    return out


@functools.cache
def _stage_frame(name: str):
    """``_stage_call`` under the code name ``stage__<name>``: every stack a sampling profiler takes
    inside the stage (its work and its planted fault) then names the stage (harness/judge/profile_diff.py)."""
    code = _stage_call.__code__
    label = f"{STAGE_FRAME}{name}"
    qualname: dict[str, Any] = {"co_qualname": label} if hasattr(code, "co_qualname") else {}  # Python 3.11+
    renamed = code.replace(co_name=label, **qualname)
    return types.FunctionType(renamed, _stage_call.__globals__, label)


class _Stages:
    """Binds the meter and the fault knobs; ``run(name, fn, *args)`` measures one call."""

    def __init__(self, config: RunConfig, meter: StageMeter, counters=None):
        self.config, self.meter = config, meter
        self.counters = counters  # the meter's stage counters; None on a bare (uninstrumented) run

    def run(self, name: str, fn, *args, **labels):
        with self.meter.stage(name, **labels) as measured:
            out = _stage_frame(name)(self.config, name, fn, args, measured)
        self.last = measured
        return out


def _hash_tables(h, paths) -> None:
    """Feed each parquet file's table content (columns and values, not file metadata) into ``h``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in paths:
        table = pq.read_table(path).replace_schema_metadata(None)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        h.update(sink.getvalue().to_pybytes())


def etl_fingerprint(sessions_path: Path) -> str:
    """Hash of the content of a folder's parquet files (the ETL output, or the raw synthetic data)."""
    h = hashlib.sha256()
    _hash_tables(h, sorted(Path(sessions_path).glob("*.parquet")))
    return h.hexdigest()[:16]


def splits_fingerprint(root: Path) -> str:
    """Hash of every split file under ``root`` in sorted path order: its relative path (the day
    folder and split name) and its content."""
    h = hashlib.sha256()
    root = Path(root)
    for rel in sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet")):
        h.update(rel.encode() + b"\0")
        _hash_tables(h, [root / rel])
    return h.hexdigest()[:16]


def metrics_fingerprint(days: list[dict]) -> str:
    blob = json.dumps([[d["eval_day"], d["metrics"], d["train_loss"]] for d in days], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _ballast(mb: int):
    if not mb:
        return None
    import numpy as np

    return np.ones(mb * 1024 * 1024, dtype=np.uint8)  # touched, so it counts in RSS


def execute(config: RunConfig, workdir: Path, send) -> dict:
    """Run every stage; return the worker's part of the record. Raises StageFailure."""
    from harness.pipeline.stages import checkpoint, model, schema, splits, synthetic, train

    s, result = before_imports(config, send)
    s.run("imports", _import_stack)
    _after_imports(s, config)
    result["numerics"] = _numerics(config, send)
    from harness.pipeline import determinism

    result["determinism_notes"] = determinism.seed_everything(config.seed, config.device)
    raw = s.run("synthetic", synthetic.generate, config.data, config.seed, workdir / "raw")
    out, dask_info, result["etl_backend"] = _etl(s, config, raw, workdir)
    parts = s.run("splits", splits.run, config.split, out.output_path, workdir / "splits")
    result["counts"] = {"synthetic_rows": raw.rows, "etl_rows": raw.rows, "sessions": out.output_rows}
    result["fingerprints"] = {"synthetic": etl_fingerprint(raw.path), "etl_output": etl_fingerprint(out.output_path),
                              "splits": splits_fingerprint(parts.root)}
    if config.train.check_split_sizes:
        try:
            train.check_split_sizes(config.train, parts.counts)
        except StageFailure as exc:
            exc.stage = "splits"
            raise
    t4r_schema = s.run("schema", schema.run, out.workflow_path)
    def build():
        return model.build(config.model, t4r_schema, config.etl.max_sequence_length, config.faults.d_model or None)

    net = s.run("model", build)
    trainer = train.make_trainer(config.train, net, t4r_schema, workdir / "trainer", config.seed,
                                 config.device, config.faults.lr_scale, [_ProgressCallback(send)])
    ddp = None
    if config.scale.nproc > 1:
        days, last_eval, ddp = _daily_ddp(s, config, trainer, out, parts, workdir)
    else:
        days, last_eval = _daily(s, config, trainer, parts, send)
    result["scale"] = scale.describe(dask_info, out.partitions, ddp)
    result["days"] = days
    result["counts"]["train_samples"] = sum(d["_train_samples"] for d in days)
    result["counts"]["eval_samples"] = sum(d["eval_sessions"] for d in days)
    for d in days:
        d.pop("_train_samples")
    result["checkpoint"] = s.run("checkpoint", _checkpoint_roundtrip, config, trainer, t4r_schema, parts,
                                 last_eval, workdir, build)
    result["fingerprints"]["model_weights"] = checkpoint.weights_hash(trainer.model)
    result["fingerprints"]["metrics"] = metrics_fingerprint(days)
    result.update(nondeterminism())
    return result


def nondeterminism() -> dict:
    """The record's ``nondeterministic_ops`` when this process lists them (on cuda: warn_only), else {}
    (on cpu torch raises for such an op instead, so a finished run has none)."""
    from harness.pipeline import determinism

    return {"nondeterministic_ops": determinism.nondeterministic_ops()} if determinism.listing_ops() else {}


def before_imports(config: RunConfig, send) -> tuple[_Stages, dict]:
    """What runs before the imports stage, on both devices: the machine-speed probe (numpy) and the
    stage meter. torch is not imported here, so the imports stage times the same imports on cpu
    and cuda; on cuda the CUDA counters start after it (``_CudaCountersAfterImports``)."""
    from harness.measure import gpu

    if not config.instrument:
        counters = None
    elif config.device == "cuda":
        counters = _CudaCountersAfterImports()
    else:
        counters = gpu.stage_counters(config.device)  # no-op counters; torch is not imported
    speed = machine_speed.speed_s() if config.instrument else None
    return _Stages(config, StageMeter(send, counters), counters), {"machine_speed_s": speed}


def _after_imports(s: _Stages, config: RunConfig) -> None:
    """On cuda: refuse a torch that cannot use the GPU, then start the CUDA stage counters."""
    if config.device != "cuda":
        return
    require_cuda()
    if s.counters is not None:  # instrumented: on cuda, _CudaCountersAfterImports
        s.counters.take_up()


class _CudaCountersAfterImports:
    """The CUDA stage counters (gpu.stage_counters), idle until ``take_up()`` after the imports stage:
    until then no stage synchronizes CUDA or reads torch's peaks, so torch is first imported inside
    the imports stage, and CUDA is first touched after it (a GPU has no queued work before it)."""

    def __init__(self):
        self._inner = None

    def take_up(self, cuda=None) -> None:
        """Start counting (``cuda``: torch.cuda, or a fake; default the real one)."""
        from harness.measure import gpu

        self._inner = gpu.stage_counters("cuda", cuda)

    def begin(self) -> None:
        if self._inner is not None:
            self._inner.begin()

    def end(self) -> dict:
        return self._inner.end() if self._inner is not None else {}


def require_cuda(torch=None) -> None:
    """Raise StageFailure unless torch in this process can use a GPU: a ``--device cuda`` run must not
    train on the CPU (transformers falls back to it silently) and record "cuda"."""
    if torch is None:
        import torch
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU build"
        raise StageFailure("exception", f"device cuda: torch {torch.__version__} ({build}) sees no usable GPU "
                           f"in the worker (torch.cuda.is_available() is False)")


def _etl(s: _Stages, config: RunConfig, raw, workdir: Path):
    """The ETL stage, on a dask cluster when ``config.scale`` names one (started as stage
    "cluster", closed right after the ETL, also when it fails): (output, dask info, "pandas" or "cudf")."""
    from harness.pipeline.stages import etl

    cpu, note = etl_backend(config.device, has_cudf())
    backend = "pandas" if cpu else "cudf"
    if note:
        s.meter.note(note)
    if not scale.uses_dask(config.scale):
        return s.run("etl", etl.run, config.etl, raw.path, raw.rows, workdir, cpu), scale.in_process_dask(), backend
    cluster = s.run("cluster", scale.start_dask, config.scale, backend, workdir,
                    os.environ.get(scale.ETL_GPUS_VARIABLE))
    try:
        info = cluster.describe()
        return s.run("etl", etl.run, config.etl, raw.path, raw.rows, workdir, cpu, cluster.client), info, backend
    finally:
        cluster.close()


def has_cudf() -> bool:
    """Whether cudf is installed (the ETL then runs on the GPU of a cuda run); imports nothing."""
    import importlib.util

    return importlib.util.find_spec("cudf") is not None


def etl_backend(device: str, has_cudf: bool) -> tuple[bool, str | None]:
    """(run the ETL on the CPU?, a note to show). On CUDA without cudf the ETL runs on the CPU
    with pandas while training stays on the GPU, and the run says so plainly."""
    if device != "cuda":
        return True, None
    if not has_cudf:
        return True, "cudf is not installed: the ETL ran on the CPU (pandas); training runs on the GPU"
    return False, None


def _daily_ddp(s: _Stages, config: RunConfig, trainer, out, parts, workdir: Path):
    """Train every day through torchrun (one "train" stage), then score each day's weights here,
    in one process, exactly as a single-process run does (one "evaluate" stage per day)."""
    from harness.pipeline.stages import checkpoint, train

    ballast = _ballast(config.faults.ballast_mb)
    ddp = s.run("train", scale.train_ddp, config, out.workflow_path, parts, workdir / "ddp",
                world_size=config.scale.nproc)
    days, ev = [], None
    for d in ddp.days:
        day = d["train_day"]
        checkpoint.load_weights(trainer.model, ddp.weights[day])
        ev = s.run("evaluate", train.evaluate_day, trainer, config.train, day + 1, parts.path(day + 1, "valid"),
                   parts.counts[day + 1]["valid"], day=day + 1)
        steps = {k: d[k] for k in ("warmup_steps", "timed_steps", "timed_samples", "timed_s", "step_clock")}
        days.append({"train_day": day, "eval_day": day + 1, "train_loss": d["loss"], "eval_loss": ev.loss,
                     "train_sessions": parts.counts[day]["train"], "eval_sessions": ev.sessions,
                     "train_wall_s": d["wall_s"], "eval_wall_s": s.last["wall_s"], "metrics": ev.metrics,
                     "_train_samples": d["samples"], **steps})
    del ballast
    trainer.create_optimizer_and_scheduler(num_training_steps=1)  # the checkpoint stage saves one
    return days, ev, ddp


def _numerics(config: RunConfig, send) -> dict:
    """The kernels this process will use (harness.measure.numerics), sent at once so that a run that fails
    later still records them; here, after the imports, with the worker's thread settings."""
    from harness.measure import numerics

    info = numerics.collect(config.device)
    send(events.Numerics(info))
    return info


def _import_stack():
    warnings.filterwarnings("ignore", message=r".*dtype mappings did not load.*")
    import nvtabular  # noqa: F401 - imported for its import time (the imports stage), not used here
    import transformers4rec.torch  # noqa: F401 - the same


def _daily(s: _Stages, config: RunConfig, trainer, parts, send):
    from harness.measure import gpu
    from harness.pipeline.stages import train

    cfg = config.train
    ballast = _ballast(config.faults.ballast_mb)
    days, ev = [], None
    for day in range(cfg.first_day, cfg.last_day + 1):
        n_train, n_valid = parts.counts[day]["train"], parts.counts[day + 1]["valid"]
        send(events.ProgressReset(day, train.batches_of(n_train, cfg.train_batch_size, True) * cfg.epochs))
        # per-step timing (CUDA events on GPU), warm-up steps counted but not timed
        timer = gpu.attach_step_timer(trainer, config.device) if config.instrument else None
        tr = s.run("train", train.train_day, trainer, cfg, day, parts.path(day, "train"), n_train, day=day)
        train_wall = s.last["wall_s"]
        steps = gpu.detach_step_timer(trainer, timer)
        ev = s.run("evaluate", train.evaluate_day, trainer, cfg, day + 1, parts.path(day + 1, "valid"), n_valid,
                   day=day + 1)
        days.append({"train_day": day, "eval_day": day + 1, "train_loss": tr.loss, "eval_loss": ev.loss,
                     "train_sessions": n_train, "eval_sessions": ev.sessions, "train_wall_s": train_wall,
                     "eval_wall_s": s.last["wall_s"], "metrics": ev.metrics, "_train_samples": tr.samples,
                     **steps})
        from harness.pipeline.workarounds import wipe_memory

        wipe_memory()
    del ballast
    return days, ev


def _checkpoint_roundtrip(config, trainer, t4r_schema, parts, last_eval, workdir, build):
    """Save, reload into a freshly built model, re-evaluate the last day; metrics must match."""
    from harness.pipeline.stages import checkpoint, train

    path = checkpoint.save(trainer)
    fresh = checkpoint.load_weights(build(), path)
    again = train.make_trainer(config.train, fresh, t4r_schema, workdir / "reloaded", config.seed, config.device)
    day = last_eval.day
    ev = train.evaluate_day(again, config.train, day, parts.path(day, "valid"), parts.counts[day]["valid"])
    diff = max((abs(ev.metrics[k] - last_eval.metrics[k]) for k in last_eval.metrics), default=0.0)
    if diff > 1e-6:
        raise StageFailure("exception", f"reloaded model's metrics differ from before saving by {diff:.3g}")
    return {"eval_day": day, "metrics_before": last_eval.metrics, "metrics_after": ev.metrics,
            "max_abs_diff": diff, "equal": diff <= 1e-6}


class _ProgressCallback:
    """A transformers TrainerCallback (duck-typed) that reports training steps to the parent."""

    def __init__(self, send):
        self._send = send

    def __getattr__(self, name):  # every other callback event is a no-op
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_end(self, args, state, control, **kwargs):
        self._send(events.Progress(1))
