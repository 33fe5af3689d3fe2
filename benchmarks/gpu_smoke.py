"""GPU smoke benchmark: a small torch transformer on CUDA, measured with the harness's own GPU code,
and a check of that measuring layer against itself.

For a GPU machine that has torch but not the Merlin stack: Python 3.12, a CUDA torch,
numpy 2, nvidia-ml-py and psutil, no network. Four stages (synthetic, model, train, evaluate), each
CUDA-synchronized, with torch memory peaks reset per stage, CUDA events around each stage, NVML
per-process memory of the run's one GPU sampled on a thread, CUDA-event step timing with warm-up
excluded, and GPU health at start and end. ``--repeat N`` runs the stages N times in this process
and pools them into one run record (profile "gpu-smoke"), which ``t4rec-bench compare`` judges
against another run's (``--baseline-out`` writes this run as a baseline for that).

    python -m benchmarks.gpu_smoke --out gpu-smoke-record.json   (from the repository root)

The checks (``checks()``; in the record under gpu.checks, and printed), each a relation that holds
on a correct measuring layer, so none needs a threshold:
- stage_events_within_wall: every stage's CUDA-event time is at most its synchronized wall time;
- train_steps_within_wall: the timed steps' CUDA-event span is at most the train stage's wall time;
- peaks_reset_per_stage: the evaluate stage's torch peak is below the train stage's (not reset, it
  would carry train's peak);
- nvml_at_least_torch_reserved: NVML's used memory at each stage is at least torch's reserved peak
  (NVML adds the CUDA context and cuBLAS workspaces);
- repetitions_alike: every stage's torch allocated peak is the same in every repetition (each starts
  from an emptied allocator, after ``warmup_repeats`` short unrecorded repetitions loaded CUDA's libraries);
- health_read: SM and memory clocks, power and throttle reasons were read at start and end;
- deterministic: every repetition ended with the same weights and losses.

Exit codes: 0 record written, every check passed; 4 record written, a check failed; 2 no CUDA
device, a missing module, or another harness error.
Stages are measured by the pipeline's own meter (harness.measure.meters.StageMeter with the per-stage GPU
counters of harness.measure.gpu), so a smoke record's stage figures mean what a pipeline record's do, and
the record is put together by the pipeline's builder (harness.documents.record.build). Without jsonschema
(not on a stock GPU machine) the record is written unvalidated; ``record.load`` validates it where it is read.
Imports only light harness modules (atomic, env, errors, events, gpu, meters, record); torch inside functions.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import json
import os
import resource
import sys
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, replace

from harness.clock import now
from harness.documents import atomic, baseline, record
from harness.errors import EXIT_ERROR, EXIT_OK, EXIT_RUN_FAILED, HarnessError
from harness.measure import environment as env
from harness.measure import events, gpu
from harness.measure.meters import StageMeter, downsample
from harness.output.formatters import value as fmt_value
from harness.pipeline import determinism as determinism_mod

PROFILE = "gpu-smoke"
NEEDED_MODULES = {"torch": "torch", "pynvml": "nvidia-ml-py", "psutil": "psutil"}  # module: distribution
TIMELINE_MAX_POINTS = 4000  # NVML samples kept in the record (peak-preserving downsampling)
# Repetitions a record pools. compare judges a smoke record against a baseline with the rank rule at each
# measurement's share of the family's alpha (policies.toml [gate]); with 5 runs a side that rule cannot
# reach such a share at all (harness.judge.rank_power.rank_smallest_p), and its verdicts are undecided.
# 12 a side can (rank_power.rank_detectable_shift: the shift, in sd of the runs' noise, flagged 80% of the time).
DEFAULT_REPEAT = 12
HEALTH_FIELDS = ("sm_clock_mhz", "mem_clock_mhz", "power_draw_w", "throttle_reasons_mask")


@dataclass(frozen=True)
class SmokeConfig:
    seed: int = 42
    train_steps: int = 500
    warmup_steps: int = 20  # timed out of train.samples_per_s, counted in the record
    eval_steps: int = 100
    batch_size: int = 256
    seq_len: int = 32
    vocab: int = 2000
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    learning_rate: float = 1e-3
    sample_interval_s: float = gpu.DEFAULT_SAMPLE_INTERVAL_S  # not part of the workload hash
    warmup_repeats: int = 1  # short repetitions before the recorded ones, not recorded (warm_up); nor this

    def workload(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("sample_interval_s", "warmup_repeats")}


@dataclass(frozen=True)
class StageResult:
    name: str
    start_s: float  # offsets from the run's start: the NVML window of the stage
    end_s: float
    wall_s: float  # CUDA-synchronized, as the pipeline's stages
    cpu_s: float  # this process and its children
    memory: dict  # StageCudaCounters.end(): torch peaks
    nvml_peak_used_bytes: int | None
    event_s: float | None = None  # CUDA events recorded at the stage's start and end; None without CUDA


@dataclass(frozen=True)
class SmokeResult:
    config: SmokeConfig
    device: str
    stages: tuple  # StageResult, in order
    train: gpu.StepTiming
    evaluate: gpu.StepTiming
    final_train_loss: float  # mean of the last 10 training steps
    eval_loss: float
    weights_sha256: str
    peak_rss_bytes: int
    nvml: dict  # NvmlSampler.summary()
    timeline: dict  # NvmlSampler.samples()
    health: dict | None  # gpu.merge_health()
    determinism: tuple  # configure_determinism() notes
    nondeterministic_ops: tuple
    started_at: str
    finished_at: str


class _Stages:
    """Runs the stages under the pipeline's StageMeter, with stage start and end as offsets from the
    run's start (the NVML sampler's clock), and keeps a StageResult per stage."""

    def __init__(self, cuda, sampler: gpu.NvmlSampler, origin_s: float, clock=time.perf_counter):
        counters = gpu.StageCudaCounters(cuda) if cuda is not None else gpu.NullStageCounters()
        self.meter = StageMeter(self._event, counters, clock=clock, wall=lambda: clock() - origin_s)
        self.cuda, self.sampler = cuda, sampler
        self.results: list[StageResult] = []
        self._start_s: float | None = None
        self._event_s: float | None = None

    def _event(self, event: events.Event) -> None:
        if isinstance(event, events.StageStart):
            self._start_s = event.wall
        elif isinstance(event, events.StageEnd):
            data, at_s = event.measured, event.wall
            memory = {k: v for k, v in data.items() if k not in ("wall_s", "cpu_s")}
            self.results.append(StageResult(event.name, self._start_s, at_s, data["wall_s"], data["cpu_s"], memory,
                                            self.sampler.peak_between(self._start_s, at_s), self._event_s))

    def run(self, name: str, fn, *args):
        """Run ``fn(*args)`` as stage ``name``: synchronized and its torch peaks reset at the start,
        timed by CUDA events inside that window, synchronized again and sampled by NVML at the end
        (so a short stage still gets a sample)."""
        with self.meter.stage(name):
            begin = self._mark()
            value = fn(*args)
            end = self._mark()
            if self.cuda is not None:
                gpu.cuda_synchronize(self.cuda)
            self._event_s = begin.elapsed_time(end) / 1000.0 if begin is not None else None
            self.sampler.sample_once()
        return value

    def _mark(self):
        if self.cuda is None:
            return None
        event = self.cuda.Event(enable_timing=True)
        event.record()
        return event
# ---------------------------------------------------------------- the workload (torch)

def make_data(cfg: SmokeConfig, device: str, steps: int, seed: int):
    """Token sequences in arithmetic progressions modulo vocab: learnable, so the loss falls."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(seed)
    start = torch.randint(0, cfg.vocab, (steps, cfg.batch_size, 1), generator=g)
    stride = torch.randint(1, 4, (steps, cfg.batch_size, 1), generator=g)
    positions = torch.arange(cfg.seq_len + 1).view(1, 1, -1)
    return ((start + stride * positions) % cfg.vocab).to(device)


def build_model(cfg: SmokeConfig, device: str):
    import torch
    from torch import nn

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg.vocab, cfg.d_model)
            self.position = nn.Embedding(cfg.seq_len, cfg.d_model)
            layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, 4 * cfg.d_model, dropout=0.0,
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            self.head = nn.Linear(cfg.d_model, cfg.vocab)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(cfg.seq_len))

        def forward(self, tokens):
            h = self.embed(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))
            return self.head(self.encoder(h, mask=self.mask, is_causal=True))

    torch.manual_seed(cfg.seed)
    return TinyTransformer().to(device)


def _loss(model, batch):
    from torch.nn import functional as F

    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def train(cfg: SmokeConfig, model, data, timer: gpu.CudaEventTimer) -> float:
    """Plain AdamW loop, no per-step host sync; returns the mean loss of the last 10 steps."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    model.train()
    tail = torch.zeros((), device=data.device)
    for step in range(data.shape[0]):
        timer.step_begin()
        loss = _loss(model, data[step])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        timer.step_end(cfg.batch_size)
        if step >= data.shape[0] - 10:
            tail += loss.detach()
    return float(tail) / min(10, data.shape[0])


def evaluate(cfg: SmokeConfig, model, data, timer: gpu.CudaEventTimer) -> float:
    import torch

    model.eval()
    total = torch.zeros((), device=data.device)
    with torch.no_grad():
        for step in range(data.shape[0]):
            timer.step_begin()
            total += _loss(model, data[step])
            timer.step_end(cfg.batch_size)
    return float(total) / data.shape[0]


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- one run

def run_smoke(cfg: SmokeConfig, device: str = "cuda", cuda=None, nvml=None, determinism=(),
              environ=None) -> SmokeResult:
    """Run the four stages on ``device``. ``cuda``/``nvml`` are torch.cuda/pynvml unless given
    (tests give fakes and ``device="cpu"``); NVML reads the GPU that ``environ``'s (default
    os.environ) CUDA_VISIBLE_DEVICES names first. Call configure_determinism() before this and
    pass its notes as ``determinism``."""
    cuda = cuda if cuda is not None else gpu._default_cuda()
    clean_slate(cuda)
    started_at, origin = now(), time.perf_counter()
    health_start = gpu.gpu_health(nvml, environ)
    sampler = gpu.NvmlSampler(interval_s=cfg.sample_interval_s, nvml=nvml, origin_s=origin,
                              environ=environ).start()
    meter = _Stages(cuda, sampler, origin)
    try:
        train_data, eval_data = meter.run("synthetic", _make_both, cfg, device)
        model = meter.run("model", build_model, cfg, device)
        train_timer = gpu.CudaEventTimer(cfg.warmup_steps, cuda=cuda)
        final_loss = meter.run("train", train, cfg, model, train_data, train_timer)
        eval_timer = gpu.CudaEventTimer(min(cfg.warmup_steps, cfg.eval_steps // 5), cuda=cuda)
        eval_loss = meter.run("evaluate", evaluate, cfg, model, eval_data, eval_timer)
    finally:
        sampler.stop()
    nvml_summary = sampler.summary()
    health = gpu.merge_health(health_start, gpu.gpu_health(nvml, environ), nvml_summary["reasons_seen"])
    return SmokeResult(cfg, device, tuple(meter.results), train_timer.result(), eval_timer.result(),
                       final_loss, eval_loss, weights_sha256(model), _peak_rss_bytes(), nvml_summary,
                       sampler.samples(), health, tuple(determinism), tuple(determinism_mod.nondeterministic_ops()),
                       started_at, now())


def clean_slate(cuda) -> None:
    """Free what an earlier repetition left (reference cycles too) and return torch's cached blocks to
    the driver, so that every repetition's stages start from the same allocator state."""
    gc.collect()
    if cuda is not None:
        gpu.cuda_synchronize(cuda)
        cuda.empty_cache()


def warm_up(cfg: SmokeConfig, determinism=()) -> None:
    """``cfg.warmup_repeats`` short unrecorded repetitions: the CUDA context, cuBLAS's workspace and the
    kernels are loaded before the first recorded one, which then starts where every later one starts."""
    short = replace(cfg, train_steps=cfg.warmup_steps + 1, eval_steps=1)
    for _ in range(cfg.warmup_repeats):
        run_smoke(short, "cuda", determinism=determinism)


def _make_both(cfg: SmokeConfig, device: str):
    return (make_data(cfg, device, cfg.train_steps, cfg.seed),
            make_data(cfg, device, cfg.eval_steps, cfg.seed + 1))


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


# ---------------------------------------------------------------- the checks

def checks(results: list[SmokeResult]) -> dict:
    """The measuring layer checked against itself over the repetitions: {name: {"ok": bool or None
    (could not be checked), and the figures it compared}}. See the module docstring."""
    return {"stage_events_within_wall": _events_within_wall(results),
            "train_steps_within_wall": _steps_within_wall(results),
            "peaks_reset_per_stage": _peaks_reset(results),
            "nvml_at_least_torch_reserved": _nvml_over_reserved(results),
            "repetitions_alike": _repetitions_alike(results),
            "health_read": _health_read(results),
            "deterministic": _deterministic(results)}


def _all(oks: list) -> bool | None:
    known = [ok for ok in oks if ok is not None]
    return all(known) if known else None


# cudaEventElapsedTime's resolution is "around 0.5 microseconds" (CUDA Runtime API): an event span may
# read that much above the host clock's span of the same interval without being wrong.
EVENT_RESOLUTION_S = 0.5e-6


def _within(event_s: float, wall_s: float) -> bool:
    return event_s <= wall_s + EVENT_RESOLUTION_S


def _events_within_wall(results) -> dict:
    pairs = [(s.name, s.event_s, s.wall_s) for r in results for s in r.stages if s.event_s is not None]
    worst = max(pairs, key=lambda p: p[1] - p[2], default=None)
    return {"ok": _all([_within(e, w) for _, e, w in pairs]), "stages": len(pairs),
            "max_event_minus_wall_s": None if worst is None else worst[1] - worst[2],
            "at_stage": None if worst is None else worst[0]}


def _steps_within_wall(results) -> dict:
    pairs = [(r.train.timed_s, next(s.wall_s for s in r.stages if s.name == "train")) for r in results]
    return {"ok": _all([_within(t, w) for t, w in pairs]), "event_s": [t for t, _ in pairs], "wall_s": [w for _, w in pairs]}


def _peaks_reset(results) -> dict:
    peaks = [({s.name: s.memory.get("torch_peak_allocated_bytes") for s in r.stages}) for r in results]
    pairs = [(p.get("evaluate"), p.get("train")) for p in peaks]
    oks = [None if None in pair or pair[1] == 0 else pair[0] < pair[1] for pair in pairs]
    return {"ok": _all(oks), "evaluate_peak_bytes": [e for e, _ in pairs], "train_peak_bytes": [t for _, t in pairs]}


def _nvml_over_reserved(results) -> dict:
    pairs = [(s.name, s.nvml_peak_used_bytes, s.memory.get("torch_peak_reserved_bytes"))
             for r in results for s in r.stages]
    pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
    least = min(pairs, key=lambda p: p[1] - p[2], default=None)
    return {"ok": _all([n >= t for _, n, t in pairs]), "stages": len(pairs),
            "source": sorted({r.nvml.get("source") for r in results}),
            "min_nvml_minus_reserved_bytes": None if least is None else least[1] - least[2],
            "at_stage": None if least is None else least[0]}


def _repetitions_alike(results) -> dict:
    """Every stage's torch allocated peak is the same in every repetition: each one starts from an empty
    allocator (``clean_slate``), and under determinism allocates the same tensors (on 2026-12-04 the
    repetitions after the first read 136 MiB in the synthetic stage where the first read 71 MiB: the
    previous repetition's tensors were still held)."""
    peaks = {s.name: set() for s in results[0].stages} if results else {}
    for r in results:
        for s in r.stages:
            peaks.setdefault(s.name, set()).add(s.memory.get("torch_peak_allocated_bytes"))
    differ = sorted(name for name, values in peaks.items() if len(values) > 1)
    known = len(results) > 1 and all(None not in values for values in peaks.values())
    return {"ok": not differ if known else None, "repetitions": len(results), "stages_that_differ": differ,
            "peaks_bytes": {name: sorted(v for v in values if v is not None) for name, values in peaks.items()}}


def _health_read(results) -> dict:
    snapshots = [h for r in results for h in ((r.health or {}).get("start"), (r.health or {}).get("end"))]
    missing = sorted({f for h in snapshots for f in HEALTH_FIELDS if h is None or h.get(f) is None})
    return {"ok": bool(snapshots) and not missing, "missing": missing, "snapshots": len(snapshots)}


def _deterministic(results) -> dict:
    outcomes = {(r.weights_sha256, r.final_train_loss, r.eval_loss) for r in results}
    return {"ok": len(outcomes) == 1 if len(results) > 1 else None, "repetitions": len(results),
            "distinct_outcomes": len(outcomes)}


def failed_checks(found: dict) -> list[str]:
    """Names of the checks that failed (a check that could not run is not a failure)."""
    return [name for name, c in found.items() if c["ok"] is False]


# ---------------------------------------------------------------- the run record

def measurements(result: SmokeResult) -> list[dict]:
    """Measurements named as in a pipeline record: <stage>.wall_s, <stage>.torch_peak_*_bytes, ..."""
    values: dict[str, float] = {}
    for s in result.stages:
        values[f"{s.name}.wall_s"] = s.wall_s
        values[f"{s.name}.cpu_s"] = s.cpu_s
        values.update({f"{s.name}.{k}": v for k, v in s.memory.items()})
        if s.nvml_peak_used_bytes is not None:
            values[f"{s.name}.nvml_peak_used_bytes"] = s.nvml_peak_used_bytes
    for stage, timing in (("train", result.train), ("evaluate", result.evaluate)):
        if timing.samples_per_s is not None:
            values[f"{stage}.samples_per_s"] = timing.samples_per_s
    values["total.wall_s"] = result.stages[-1].end_s - result.stages[0].start_s
    values["total.cpu_s"] = sum(s.cpu_s for s in result.stages)
    values["total.peak_rss_bytes"] = result.peak_rss_bytes
    peaks = [s.nvml_peak_used_bytes for s in result.stages if s.nvml_peak_used_bytes is not None]
    if peaks:
        values["total.nvml_peak_used_bytes"] = max(peaks)
    values["quality.final_train_loss"] = result.final_train_loss
    values["quality.eval_loss"] = result.eval_loss
    return [record.measurement(name, value) for name, value in values.items()]


def agreement(by_name: dict, train: gpu.StepTiming) -> dict:
    """How the three views agree in one repetition: CUDA-event time within the synchronized wall
    time, and NVML's peak at or above torch's reserved peak (NVML adds the CUDA context and cuBLAS)."""
    value = {k: m["value"] for k, m in by_name.items()}
    out = {"train_event_s": train.timed_s, "train_wall_s": value.get("train.wall_s"),
           "train_event_within_wall": _within(train.timed_s, value.get("train.wall_s", 0.0))}
    nvml, reserved = value.get("train.nvml_peak_used_bytes"), value.get("train.torch_peak_reserved_bytes")
    if nvml is not None and reserved is not None:
        out["nvml_minus_torch_reserved_bytes"] = nvml - reserved
        out["nvml_at_least_torch_reserved"] = nvml >= reserved
    return out


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def build_record(result: SmokeResult, environment: dict, command: str = "") -> dict:
    """The run record of one smoke repetition (the current schema_version, status ok)."""
    config = {**asdict(result.config), "device": result.device}
    ms = measurements(result)
    extra = {"nvml": result.nvml, "train_steps": result.train.to_dict(), "eval_steps": result.evaluate.to_dict(),
             "stage_event_s": {s.name: s.event_s for s in result.stages},
             "determinism": list(result.determinism), "nondeterministic_ops": list(result.nondeterministic_ops),
             "agreement": agreement({m["name"]: m for m in ms}, result.train)}
    gpu_section = {**(result.health or {"name": None, "throttled": False}), **extra}
    timeline = dict(zip(("gpu_t_s", "gpu_used_bytes"), downsample(
        result.timeline["t_s"], result.timeline["used_bytes"], TIMELINE_MAX_POINTS)))
    return record.build(
        run_id=f"{result.started_at[:19].replace(':', '')}-{PROFILE}-{uuid.uuid4().hex[:8]}",
        profile=PROFILE, started_at=result.started_at, finished_at=result.finished_at, command=command,
        config=config, config_hash=_hash(config),
        workload_hash=_hash({**result.config.workload(), "device": result.device}),  # smoke's own: old ones compare
        faults={}, instrumented=True, environment=environment, gpu=gpu_section,
        stages=[record.stage(s.name, "ok", s.start_s, s.end_s) for s in result.stages],
        measurements=ms, days=[], fingerprints={"model_weights": result.weights_sha256}, timeline=timeline,
        failure=None)


def pooled_record(results: list[SmokeResult], environment: dict, command: str = "") -> dict:
    """One run record of every repetition (samples pooled, throttling ORed over them), with
    ``gpu.checks`` (``checks(results)``)."""
    rec = record.merge_repetitions([build_record(r, environment, command) for r in results])
    rec["gpu"]["checks"] = checks(results)
    return rec


def write_record(rec: dict, path) -> tuple[object, bool]:
    """(path written, validated): validated against the schema when jsonschema is installed."""
    if importlib.util.find_spec("jsonschema") is None:
        return atomic.write_json(path, rec), False
    return record.write(rec, path), True


def write_baseline(rec: dict, path, command: str = ""):
    """Write ``rec`` as a baseline document (what `t4rec-bench compare --baseline` reads); needs jsonschema."""
    if importlib.util.find_spec("jsonschema") is None:
        raise HarnessError("--baseline-out needs jsonschema (to validate the baseline): install it, or write "
                           "the baseline where it is installed")
    return atomic.write_json(path, baseline.build(rec, command))


def summary_lines(rec: dict) -> list[str]:
    """A short human summary: per-stage time, torch peaks and NVML peak, throughput, health, checks."""
    m = record.by_name(rec)
    mib = lambda name: fmt_value(m[name]["value"], "bytes", "series") if name in m else "- MiB"  # noqa: E731
    lines = [f"{'stage':<10} {'wall_s':>8} {'torch alloc':>13} {'torch resv':>13} {'nvml used':>13}"]
    for s in rec["stages"]:
        n = s["name"]
        lines.append(f"{n:<10} {m[n + '.wall_s']['value']:8.3f} {mib(n + '.torch_peak_allocated_bytes'):>13} "
                     f"{mib(n + '.torch_peak_reserved_bytes'):>13} {mib(n + '.nvml_peak_used_bytes'):>13}")
    g = rec["gpu"] or {}
    for name in ("train.samples_per_s", "evaluate.samples_per_s", "total.wall_s"):
        if name in m:
            lines.append(f"{name}: {m[name]['value']:.1f} (median of {len(m[name]['samples'])})")
    nvml = g.get("nvml", {})
    lines.append(f"gpu: {g.get('name')} {g.get('uuid')} throttled={g.get('throttled')} "
                 f"reasons={g.get('throttle_reasons')}")
    lines.append(f"nvml: samples={nvml.get('samples')} source={nvml.get('source')} errors={nvml.get('errors')} "
                 f"unknown={nvml.get('unknown')} binding={(nvml.get('nvml_binding') or {}).get('distribution')} "
                 f"{(nvml.get('nvml_binding') or {}).get('version')}")
    for name, c in (g.get("checks") or {}).items():
        verdict = {True: "ok", False: "FAILED", None: "not checked"}[c["ok"]]
        lines.append(f"check {name}: {verdict} {json.dumps({k: v for k, v in c.items() if k != 'ok'})}")
    return lines


# ---------------------------------------------------------------- command line

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="path of the run record to write (JSON)")
    p.add_argument("--baseline-out", metavar="PATH",
                   help="also write the record as a baseline document, for `t4rec-bench compare --baseline`")
    p.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                   help="repetitions pooled into the record (default: %(default)s; a baseline needs "
                        f"{baseline.MIN_RUNS}, and compare's rank rule more: see DEFAULT_REPEAT)")
    p.add_argument("--train-steps", type=int, default=SmokeConfig.train_steps)
    p.add_argument("--eval-steps", type=int, default=SmokeConfig.eval_steps)
    p.add_argument("--warmup-steps", type=int, default=SmokeConfig.warmup_steps)
    p.add_argument("--batch-size", type=int, default=SmokeConfig.batch_size)
    p.add_argument("--seed", type=int, default=SmokeConfig.seed)
    p.add_argument("--sample-interval-s", type=float, default=SmokeConfig.sample_interval_s)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SmokeConfig:
    cfg = SmokeConfig(seed=args.seed, train_steps=args.train_steps, eval_steps=args.eval_steps,
                      warmup_steps=args.warmup_steps, batch_size=args.batch_size,
                      sample_interval_s=args.sample_interval_s)
    if cfg.train_steps <= cfg.warmup_steps or cfg.eval_steps < 1 or cfg.batch_size < 1 or args.repeat < 1:
        raise HarnessError(f"need train_steps > warmup_steps and eval_steps, batch_size, repeat >= 1; "
                           f"got {cfg}, repeat={args.repeat}")
    if not 0 < cfg.sample_interval_s <= gpu.MAX_SAMPLE_INTERVAL_S:
        raise HarnessError(f"--sample-interval-s must be in (0, {gpu.MAX_SAMPLE_INTERVAL_S}], "
                           f"got {cfg.sample_interval_s}")
    return cfg


def require_modules() -> None:
    missing = [f"{module} ({dist})" for module, dist in NEEDED_MODULES.items()
               if importlib.util.find_spec(module) is None]
    if missing:
        raise HarnessError(f"missing Python modules {', '.join(missing)}: install them (offline: "
                           f"pip install --no-index --find-links <wheel folder> ...)")


def pin_one_gpu(environ=None, nvml=None) -> str | None:
    """Before CUDA starts: make the run's GPU the first visible one, by UUID, as the runner does for
    a worker (CUDA_DEVICE_ORDER=PCI_BUS_ID, CUDA_VISIBLE_DEVICES=<its UUID>), so that torch's
    device 0 and NVML's run_device are the same GPU. Returns that UUID (None: left as it was)."""
    environ = os.environ if environ is None else environ
    entries = gpu.visible_devices(environ, nvml)
    uuid_ = gpu.device_uuid(entries[0], nvml) if entries else None
    if uuid_ is not None:
        environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        environ["CUDA_VISIBLE_DEVICES"] = uuid_
    return uuid_


def require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise HarnessError("no CUDA device visible to torch (torch.cuda.is_available() is False); "
                           "gpu_smoke needs a GPU")


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        cfg = config_from_args(args)
        require_modules()
        pin_one_gpu()  # before CUDA reads CUDA_VISIBLE_DEVICES
        require_cuda()  # counts devices; creates no CUDA context
        notes = determinism_mod.configure_determinism("cuda", cfg.seed)  # before any CUDA work
        warm_up(cfg, notes)
        results = [run_smoke(cfg, "cuda", determinism=notes) for _ in range(args.repeat)]
        command = " ".join(["python -m benchmarks.gpu_smoke", *(sys.argv[1:] if argv is None else argv)])
        rec = pooled_record(results, env.collect(cuda=gpu.cuda_info()), command)
        path, validated = write_record(rec, args.out)
        if args.baseline_out:
            write_baseline(rec, args.baseline_out, command)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the workload failed: keep the traceback, exit 2
        traceback.print_exc()
        print(f"error: gpu smoke run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(summary_lines(rec)))
    print(f"record: {path}" + ("" if validated else " (not validated here: jsonschema is not installed)"))
    failed = failed_checks(rec["gpu"]["checks"])
    if failed:
        print(f"error: measuring-layer checks failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
