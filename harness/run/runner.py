"""Runs the pipeline in a fresh worker process per repetition and builds the run record.

The parent keeps the watchdog (a stage that outlives ``stage_timeout_s`` is killed and
reported as that stage's timeout), samples the worker's memory from outside, and turns
the worker's events into one validated record. A crash, a hang or Ctrl-C in the worker
always ends as a record with status ``failed`` that names the stage.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import cast

from harness import REPO_DIR
from harness.clock import now
from harness.config import RunConfig
from harness.documents import record
from harness.documents.record_types import Failure, FailureKind, Measurement, RunRecord
from harness.measure import environment as envmod
from harness.measure import events
from harness.measure.meters import RssSampler, downsample
from harness.run.gpus import GpuPlan, preflight

POLL_S = 0.05


class _Watch:
    """Parent-side state of one repetition: stages seen, current stage, deadline, failure."""

    def __init__(self, config: RunConfig, t0: float, progress):
        self.config, self.t0, self.progress = config, t0, progress
        self.stages: list[dict] = []
        self.totals: dict[str, dict] = {}
        self.current: str | None = None
        self.deadline = float("inf")
        self.result: dict | None = None
        self.failure: Failure | None = None
        self.gpu: _GpuWatch | None = None
        self.notes: list[str] = []
        self.numerics: dict | None = None  # harness.measure.numerics.collect() in the worker, after the imports

    def handle(self, event: events.Event, sampler) -> None:
        match event:
            case events.StageStart():
                self._start(event)
            case events.StageEnd():
                self._end(event, sampler)
            case events.Progress() | events.ProgressReset():
                self.progress.step(event)
            case events.Note(text=text):
                self.notes.append(text)
                self.progress.note(text)
            case events.Numerics(info=info):
                self.numerics = info
            case events.Result(result=result):
                self.result = result
            case events.Error():  # the worker's kinds are FAILURE_KINDS; the record's validation refuses others
                self.fail(event.stage or self.current or "pipeline", cast(FailureKind, event.kind), event.message)

    def _start(self, event: events.StageStart) -> None:
        self.current, self.deadline = event.name, time.monotonic() + self.config.stage_timeout_s
        self.stages.append({"name": event.name, "status": "ok", "start_s": time.monotonic() - self.t0,
                            "end_s": None, **({"labels": event.labels} if event.labels else {})})
        self.progress.stage(event.name, event.labels)

    def _end(self, event: events.StageEnd, sampler) -> None:
        measured = dict(event.measured)
        stage = self.stages[-1]
        stage["end_s"] = time.monotonic() - self.t0
        if sampler:
            window = (self.t0 + stage["start_s"], self.t0 + stage["end_s"])
            measured["peak_rss_bytes"] = sampler.peak_between(*window)
            measured["peak_anon_bytes"] = sampler.peak_between(*window, anon=True)
        if self.gpu:
            peak = self.gpu.sampler.peak_between(stage["start_s"], stage["end_s"])
            if peak is not None:
                measured["nvml_peak_used_bytes"] = peak
        self._accumulate(event.name, measured)
        self.current, self.deadline = None, float("inf")
        self.progress.stage_done(event.name, measured["wall_s"])

    def _accumulate(self, name: str, measured: dict) -> None:
        total = self.totals.setdefault(name, {})
        for key, value in measured.items():
            if key.endswith("_bytes"):
                total[key] = max(total.get(key, 0), value)
            else:
                total[key] = total.get(key, 0.0) + value

    def fail(self, stage: str, kind: FailureKind, message: str) -> None:
        if self.failure is None:
            self.failure = {"stage": stage, "kind": kind, "message": message}
            for s in self.stages:
                if s["end_s"] is None:
                    s["status"], s["end_s"] = "failed", time.monotonic() - self.t0


class _GpuWatch:
    """NVML sampling of the worker's process tree and GPU health at start and end, on the
    run's GPU: the first entry of CUDA_VISIBLE_DEVICES in the worker's environment ``environ``."""

    def __init__(self, pid: int, t0: float, environ: dict):
        from harness.measure import gpu

        self._gpu, self._environ = gpu, environ
        self.start_health = gpu.gpu_health(environ=environ)
        self.sampler = gpu.NvmlSampler(pid=pid, clock=time.monotonic, origin_s=t0, environ=environ).start()
        self.health: dict | None = None

    def stop(self) -> None:
        self.sampler.stop()
        summary = self.sampler.summary()
        self.health = self._gpu.merge_health(self.start_health, self._gpu.gpu_health(environ=self._environ),
                                             summary["reasons_seen"])
        if self.health is not None:
            self.health["nvml_sampler"] = summary

    def timeline(self) -> dict:
        s = self.sampler.samples()
        ts, used = downsample(s["t_s"], s["used_bytes"], 1500)
        return {"gpu_t_s": [round(t, 3) for t in ts], "gpu_used_bytes": used}


def kill_tree(proc) -> None:
    """Kill ``proc`` (a Popen or psutil process) and all its descendants, and reap them."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        victims = [*parent.children(recursive=True), parent]
    except psutil.Error:
        return
    for p in victims:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=5)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def worker_env(config: RunConfig, devices: dict | None = None, environ=None) -> dict:
    """The worker's environment: ``environ`` (default this process's), with the thread count fixed when
    ``config.threads`` is set (read by torch, OpenMP and the BLAS libraries when they load), the
    determinism variables (PYTHONHASHSEED; CUBLAS_WORKSPACE_CONFIG on cuda: read when the interpreter
    and cuBLAS start, so set before the worker starts) and ``devices`` (``GpuPlan.variables``)."""
    from harness.pipeline import determinism

    env = dict(os.environ if environ is None else environ)
    if config.threads:
        env.update({name: str(config.threads) for name in THREAD_VARIABLES})
    env.update(determinism.process_environment(config.seed, config.device, env))
    env.update(devices or {})
    return env


def _run_once(config: RunConfig, workdir: Path, progress, plan: GpuPlan | None = None
              ) -> tuple[_Watch, RssSampler | None, float]:
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config.to_dict()))
    read_fd, write_fd = os.pipe()
    env = worker_env(config, plan.variables if plan else None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "harness.run.worker", str(config_path), str(workdir), str(write_fd)],
                            pass_fds=(write_fd,), start_new_session=True, env=env)
    os.close(write_fd)
    sampler = RssSampler(proc.pid).start() if config.instrument else None
    watch = _Watch(config, t0, progress)
    if plan:
        watch.handle(events.Note(plan.note), sampler)
    watch.gpu = _GpuWatch(proc.pid, t0, env) if config.instrument and config.device == "cuda" else None
    reader = _EventReader(read_fd)  # not named events: that is the module the plan's Note comes from
    try:
        _loop(proc, reader, watch, sampler)
    except KeyboardInterrupt:
        watch.fail(watch.current or "pipeline", "interrupted", "interrupted by the user (Ctrl-C)")
        kill_tree(proc)
    finally:
        if sampler:
            sampler.stop()
        if watch.gpu:
            watch.gpu.stop()
        reader.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
    return watch, sampler, t0


class _EventReader:
    """Reads the worker's events (one JSON line each, events.decode) from a pipe without blocking past
    a timeout."""

    def __init__(self, fd: int):
        self._fd, self._buf, self.eof = fd, b"", False

    def poll(self, timeout: float) -> list[events.Event]:
        if b"\n" not in self._buf and not self.eof:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if ready:
                chunk = os.read(self._fd, 1 << 16)
                self.eof = not chunk
                self._buf += chunk
        lines = self._buf.split(b"\n")
        self._buf = lines.pop()
        return [events.decode(line) for line in lines if line.strip()]

    def close(self) -> None:
        os.close(self._fd)


def _loop(proc, events: _EventReader, watch: _Watch, sampler) -> None:
    while True:
        for event in events.poll(POLL_S):
            watch.handle(event, sampler)
            if watch.result is not None or watch.failure is not None:
                return
        if time.monotonic() > watch.deadline:
            t = watch.config.stage_timeout_s
            kill_tree(proc)
            watch.fail(watch.current or "pipeline", "timeout", f"stage {watch.current!r} ran past its {t:g} s timeout "
                       f"and was killed (a hang: see docs/usage.md, 'Failures are records')")
            return
        if events.eof or proc.poll() is not None:
            for event in events.poll(0):
                watch.handle(event, sampler)
            if watch.result is None and watch.failure is None:
                proc.wait()
                _fail_crashed(proc, watch)
            return


def _fail_crashed(proc, watch: _Watch) -> None:
    code = proc.returncode
    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    watch.fail(watch.current or "pipeline", "crash", f"worker process died ({why}) without a result")


def _measurements(config: RunConfig, watch: _Watch, sampler) -> list[Measurement]:
    out: list[Measurement] = []
    for stage, totals in watch.totals.items():
        for key, value in totals.items():
            out.append(record.measurement(f"{stage}.{key}", value))
    res = watch.result or {}
    counts = res.get("counts", {})
    rates = {"synthetic.rows_per_s": ("synthetic", "synthetic_rows"), "etl.rows_per_s": ("etl", "etl_rows"),
             "train.samples_per_s": ("train", "train_samples"), "evaluate.samples_per_s": ("evaluate", "eval_samples")}
    for name, (stage, count) in rates.items():
        wall = watch.totals.get(stage, {}).get("wall_s")
        if wall and counts.get(count):
            out.append(record.measurement(name, counts[count] / wall))
    if watch.totals:
        out.append(record.measurement("total.wall_s", sum(t["wall_s"] for t in watch.totals.values())))
        out.append(record.measurement("total.cpu_s", sum(t["cpu_s"] for t in watch.totals.values())))
    if sampler and sampler.samples:
        out.append(record.measurement("total.peak_rss_bytes", max(sampler.rss)))
        out.append(record.measurement("total.peak_anon_bytes", max(sampler.anon)))
    if watch.gpu and watch.gpu.sampler.used_bytes:
        out.append(record.measurement("total.nvml_peak_used_bytes", max(watch.gpu.sampler.samples()["used_bytes"])))
    timed = [d for d in (res.get("days") or []) if d.get("timed_s")]
    if timed:  # steady-state training rate: warm-up steps excluded (counted in days[].warmup_steps)
        rate = sum(d["timed_samples"] for d in timed) / sum(d["timed_s"] for d in timed)
        out.append(record.measurement("train.steady_samples_per_s", rate))
    days = res.get("days") or []
    if days:
        for key, value in days[-1]["metrics"].items():
            out.append(record.measurement(f"quality.{key}", value))
        out.append(record.measurement("quality.final_train_loss", days[-1]["train_loss"]))
        out.append(record.measurement("quality.eval_sessions", days[-1]["eval_sessions"]))
    return out


def _one_record(config: RunConfig, watch: _Watch, sampler, t0: float, started: str, environment: dict,
                command: str) -> RunRecord:
    res = watch.result or {}
    timeline = {}
    if sampler and sampler.samples:
        ts, rss = downsample([t - t0 for t in sampler.t], sampler.rss)
        timeline = {"t_s": [round(t, 3) for t in ts], "rss_bytes": rss}
    if watch.gpu:
        timeline.update(watch.gpu.timeline())
    # engines and their sizes: dask workers, DDP world size; absent when the worker sent none
    optional = {key: res[key] for key in ("scale", "etl_backend", "nondeterministic_ops") if key in res}
    return record.build(
        run_id=f"{started[:19].replace(':', '').replace('-', '')}-{uuid.uuid4().hex[:6]}",
        profile=config.profile, started_at=started, finished_at=now(), command=command,
        config=config.to_dict(), config_hash=config.hash(), workload_hash=config.workload_hash(),
        faults=config.faults.active(), instrumented=config.instrument,
        environment=_with_numerics(environment, watch.numerics or res.get("numerics")),
        machine_speed={"speed_s": [res["machine_speed_s"]] if res.get("machine_speed_s") else []},
        gpu=watch.gpu.health if watch.gpu else None,
        stages=[record.stage(s["name"], s["status"], s["start_s"], s["end_s"] or 0.0) for s in watch.stages],
        measurements=_measurements(config, watch, sampler),
        days=res.get("days", []), checkpoint=res.get("checkpoint"),
        fingerprints=res.get("fingerprints", {}), timeline=timeline, failure=watch.failure,
        determinism_notes=res.get("determinism_notes", []), notes=watch.notes, **optional)


def _with_numerics(environment: dict, numerics: dict | None) -> dict:
    """The run's environment plus this repetition's numerics (absent when the worker failed before
    reporting them)."""
    if not numerics:
        return environment
    return {**environment, "numerics": numerics, "numerics_fingerprint": numerics["fingerprint"]}


def collect_environment(config: RunConfig) -> dict:
    """The environment a run of ``config`` records (harness.measure.environment.collect: about 0.3 s here, so a
    check that runs many rounds collects it once and passes it to ``run``)."""
    return envmod.collect(cuda=_cuda_info(config), repo_dir=str(REPO_DIR))


def run(config: RunConfig, repeat: int = 1, progress=None, command: str | None = None,
        environment: dict | None = None) -> RunRecord:
    """Run ``config`` ``repeat`` times, each in a fresh process; return the merged, validated record.

    Stops at the first failed repetition; the record then has status ``failed``. ``environment``:
    the environment to record, when the caller collected it already (``collect_environment``).
    """
    from harness.output.progress import Progress

    progress = progress or Progress(enabled=False)
    environment = environment or collect_environment(config)
    plan = preflight(config, environment)
    command = command or " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])
    records: list[RunRecord] = []
    for rep in range(repeat):
        progress.repetition(rep + 1, repeat)
        workdir = Path(tempfile.mkdtemp(prefix="t4rec-bench-"))
        try:
            started = now()
            watch, sampler, t0 = _run_once(config, workdir, progress, plan)
            records.append(_one_record(config, watch, sampler, t0, started, environment, command))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if records[-1]["status"] != "ok":
            break
    merged = record.merge_repetitions(records)
    record.validate(merged)
    return merged


def machine_class(config: RunConfig) -> str:
    """The machine class a run of ``config`` records (its baseline folder name)."""
    return envmod.machine_class(_cuda_info(config))


def _cuda_info(config: RunConfig) -> dict:
    if config.device != "cuda":
        return {}
    from harness.measure import gpu

    return gpu.cuda_info()
