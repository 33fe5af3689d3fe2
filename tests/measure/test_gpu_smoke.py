"""The GPU smoke script (benchmarks/gpu_smoke.py) on this machine, with fakes for the GPU."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks import gpu_smoke
from harness.documents import record
from harness.measure import environment as env
from harness.measure import gpu

MiB = 2**20
from gpu_fakes import (
    H100,
    REPO,
    FakeCuda,
    FakeGpu,
    FakeNvml,
)

TINY = gpu_smoke.SmokeConfig(train_steps=12, warmup_steps=3, eval_steps=5, batch_size=8, seq_len=8, vocab=50,
                             d_model=16, heads=2, layers=1)


def test_smoke_imports_only_light_modules():
    code = ("import sys, benchmarks.gpu_smoke, harness.measure.gpu, harness.documents.record, "
            "harness.measure.environment, harness.documents.atomic, harness.measure.events, harness.errors; heavy = [m for m in ('torch', 'pandas', 'nvtabular', 'merlin', 'transformers', "
            "'transformers4rec', 'cudf', 'cupy', 'pynvml', 'jsonschema', 'psutil') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_smoke_record_with_fakes_is_valid(tmp_path):
    me = os.getpid()
    device = FakeGpu(compute={me: 700 * MiB}, used_bytes=1500 * MiB)
    nvml = FakeNvml([device])
    cuda = FakeCuda()
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=cuda, nvml=nvml, determinism=("note",))
    environment = env.collect(cuda=gpu.cuda_info(cuda=cuda, nvml=nvml, cuda_version="12.8"))
    rec = gpu_smoke.build_record(result, environment, "python -m benchmarks.gpu_smoke --out x")
    path = record.write(rec, tmp_path / "gpu-smoke-record.json")
    loaded = record.load(path)

    assert [s["name"] for s in loaded["stages"]] == ["synthetic", "model", "train", "evaluate"]
    starts = [s["start_s"] for s in loaded["stages"]]
    assert starts == sorted(starts) and all(s["end_s"] >= s["start_s"] for s in loaded["stages"])
    m = record.by_name(loaded)
    for name in ("train.wall_s", "train.cpu_s", "train.samples_per_s", "train.torch_peak_allocated_bytes",
                 "train.torch_peak_reserved_bytes", "train.nvml_peak_used_bytes", "evaluate.samples_per_s",
                 "model.nvml_peak_used_bytes", "total.wall_s", "total.nvml_peak_used_bytes",
                 "quality.final_train_loss"):
        assert name in m, name
    assert m["train.nvml_peak_used_bytes"]["value"] == 700 * MiB
    assert m["train.samples_per_s"]["higher_is_better"] and m["train.wall_s"]["kind"] == "time"
    g = loaded["gpu"]
    assert g["name"] == H100 and g["throttled"] is False and g["determinism"] == ["note"]
    assert g["train_steps"]["warmup_steps"] == TINY.warmup_steps
    assert g["train_steps"]["steps"] == TINY.train_steps and g["nvml"]["source"] == "process"
    assert g["agreement"]["train_event_within_wall"] is True
    assert g["agreement"]["nvml_at_least_torch_reserved"] is True
    tl = loaded["timeline"]
    assert len(tl["gpu_t_s"]) == len(tl["gpu_used_bytes"]) >= 4  # one boundary sample per stage at least
    assert loaded["environment"]["machine_class"] == "gpu-h100" and loaded["profile"] == "gpu-smoke"
    # put together by the pipeline's builder: its fields, in its order, and the smoke workload's own hash
    from harness.documents.record_types import RunRecord

    assert list(loaded) == [k for k in RunRecord.__annotations__ if k in loaded] and loaded["repeat"] == 1
    assert loaded["workload_hash"] == gpu_smoke._hash({**TINY.workload(), "device": "cpu"})
    # every stage was synchronized and its torch peaks reset
    assert cuda.log.count("reset_peak_memory_stats") == 4


def test_smoke_stages_are_measured_by_the_pipelines_meter():
    from harness.measure.meters import StageMeter

    cuda = FakeCuda()
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=cuda, nvml=FakeNvml([FakeGpu(compute={os.getpid(): MiB})]))
    assert all(isinstance(stage, gpu_smoke.StageResult) for stage in result.stages)
    for s in result.stages:
        assert 0 <= s.wall_s <= s.end_s - s.start_s and s.cpu_s >= 0 and s.nvml_peak_used_bytes == MiB
        assert set(s.memory) == {"torch_peak_allocated_bytes", "torch_peak_reserved_bytes"}
    m = {x["name"]: x["value"] for x in gpu_smoke.measurements(result)}
    assert m["train.wall_s"] == result.stages[2].wall_s
    assert m["total.wall_s"] == result.stages[-1].end_s - result.stages[0].start_s
    assert gpu_smoke.StageMeter is StageMeter


def test_smoke_summary_lines_name_stages_and_peaks():
    nvml = FakeNvml([FakeGpu(compute={os.getpid(): 64 * MiB})])
    result = gpu_smoke.run_smoke(TINY, device="cpu", cuda=FakeCuda(), nvml=nvml)
    environment = env.collect(cuda=gpu.cuda_info(cuda=FakeCuda(), nvml=nvml, cuda_version="12.8"))
    text = "\n".join(gpu_smoke.summary_lines(gpu_smoke.build_record(result, environment)))
    for stage in ("synthetic", "model", "train", "evaluate"):
        assert stage in text
    assert "64.0 MiB" in text and "train.samples_per_s" in text


def test_smoke_without_cuda_exits_2_with_one_error_line(tmp_path, capsys):
    if gpu._default_cuda() is not None:
        pytest.skip("this machine has CUDA")
    out = tmp_path / "rec.json"
    assert gpu_smoke.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and not out.exists()


def test_smoke_rejects_slow_sample_interval(tmp_path, capsys):
    assert gpu_smoke.main(["--out", str(tmp_path / "r.json"), "--sample-interval-s", "0.1"]) == 2
    assert capsys.readouterr().err.startswith("error: --sample-interval-s")


@pytest.mark.slow
def test_gpu_smoke_sh_without_cuda_exits_2(tmp_path):
    if gpu._default_cuda() is not None:
        pytest.skip("this machine has CUDA")
    environ = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_smoke.sh")], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: no CUDA device")



def test_gpu_timelines_use_the_one_downsampler():
    import inspect

    from harness.run import runner

    # The GPU timeline is downsampled by harness.measure.meters.downsample (tested in test_measure), no other.
    assert not hasattr(gpu, "downsample_max")
    assert "downsample(s[\"t_s\"], s[\"used_bytes\"]" in inspect.getsource(runner)


def _fake_results(n=2):
    me = os.getpid()
    nvml = FakeNvml([FakeGpu(compute={me: 700 * MiB}, used_bytes=1500 * MiB)])
    return [gpu_smoke.run_smoke(TINY, device="cpu", cuda=FakeCuda(), nvml=nvml) for _ in range(n)], nvml


def test_smoke_pools_repetitions_and_checks_the_measuring_layer(tmp_path):
    results, nvml = _fake_results(2)
    environment = env.collect(cuda=gpu.cuda_info(cuda=FakeCuda(), nvml=nvml, cuda_version="12.8"))
    rec = gpu_smoke.pooled_record(results, environment, "python -m benchmarks.gpu_smoke --out x")
    path, validated = gpu_smoke.write_record(rec, tmp_path / "a.json")
    loaded = record.load(path)
    assert validated and loaded["repeat"] == 2
    assert len(record.by_name(loaded)["train.wall_s"]["samples"]) == 2
    checks = loaded["gpu"]["checks"]
    assert checks["deterministic"] == {"ok": True, "repetitions": 2, "distinct_outcomes": 1}
    assert checks["stage_events_within_wall"]["ok"] is True and checks["stage_events_within_wall"]["stages"] == 8
    assert checks["nvml_at_least_torch_reserved"]["ok"] is True
    assert checks["health_read"] == {"ok": True, "missing": [], "snapshots": 4}
    assert checks["peaks_reset_per_stage"]["ok"] is None  # the fake allocates nothing: not checkable
    assert checks["repetitions_alike"]["ok"] is True and checks["repetitions_alike"]["stages_that_differ"] == []
    assert gpu_smoke.failed_checks(checks) == []
    assert loaded["gpu"]["uuid"] == "GPU-fake-0" and loaded["gpu"]["nvml"]["uuid"] == "GPU-fake-0"
    assert "check deterministic: ok" in "\n".join(gpu_smoke.summary_lines(loaded))


def _stage(result, name, **change):
    import dataclasses

    stages = tuple(dataclasses.replace(s, **change) if s.name == name else s for s in result.stages)
    return dataclasses.replace(result, stages=stages)


def test_smoke_checks_fail_when_the_measuring_layer_disagrees():
    import dataclasses

    results, _ = _fake_results(2)
    a, b = results
    train = next(s for s in a.stages if s.name == "train")
    assert gpu_smoke.checks([_stage(a, "train", event_s=train.wall_s * 2), b])["stage_events_within_wall"]["ok"] is False
    mem = {"torch_peak_allocated_bytes": 50 * MiB, "torch_peak_reserved_bytes": 64 * MiB}
    not_reset = _stage(_stage(a, "train", memory=mem), "evaluate", memory=mem)
    assert gpu_smoke.checks([not_reset])["peaks_reset_per_stage"]["ok"] is False
    reset = _stage(not_reset, "evaluate", memory={**mem, "torch_peak_allocated_bytes": 10 * MiB})
    assert gpu_smoke.checks([reset])["peaks_reset_per_stage"]["ok"] is True
    low = _stage(a, "train", memory={**mem, "torch_peak_reserved_bytes": 2 * train.nvml_peak_used_bytes})
    assert gpu_smoke.checks([low])["nvml_at_least_torch_reserved"]["ok"] is False
    no_power = dataclasses.replace(a, health={**a.health, "end": {**a.health["end"], "power_draw_w": None}})
    assert gpu_smoke.checks([no_power])["health_read"] == {"ok": False, "missing": ["power_draw_w"], "snapshots": 2}
    other = dataclasses.replace(b, weights_sha256="0" * 64)
    assert gpu_smoke.checks([a, other])["deterministic"]["ok"] is False
    assert gpu_smoke.checks([a])["deterministic"]["ok"] is None  # one repetition: nothing to compare
    assert set(gpu_smoke.failed_checks(gpu_smoke.checks([a, other]))) == {"deterministic"}
    # a repetition that starts with the previous one's tensors still allocated (the H200 run of 2026-12-04)
    held = _stage(b, "synthetic", memory={**mem, "torch_peak_allocated_bytes": 136 * MiB})
    alike = gpu_smoke.checks([_stage(a, "synthetic", memory=mem), held])["repetitions_alike"]
    assert alike["ok"] is False and alike["stages_that_differ"] == ["synthetic"]
    assert alike["peaks_bytes"]["synthetic"] == [50 * MiB, 136 * MiB]
    assert gpu_smoke.checks([a])["repetitions_alike"]["ok"] is None


def test_every_repetition_starts_from_an_emptied_allocator():
    cuda = FakeCuda()
    cuda.allocate(100 * MiB)
    cuda.free(100 * MiB)  # an earlier repetition's blocks, still cached
    assert cuda.reserved == 100 * MiB
    gpu_smoke.run_smoke(TINY, device="cpu", cuda=cuda, nvml=FakeNvml([FakeGpu(compute={}, used_bytes=0)]))
    assert cuda.log.index("empty_cache") < cuda.log.index("reset_peak_memory_stats")
    assert cuda.reserved == 0


def test_warm_up_repetitions_are_short_and_not_part_of_the_workload(monkeypatch):
    seen = []
    monkeypatch.setattr(gpu_smoke, "run_smoke", lambda cfg, device, determinism=(): seen.append(cfg))
    cfg = gpu_smoke.SmokeConfig(warmup_repeats=2)
    gpu_smoke.warm_up(cfg)
    assert [(c.train_steps, c.eval_steps) for c in seen] == [(cfg.warmup_steps + 1, 1)] * 2
    assert "warmup_repeats" not in cfg.workload()


def test_smoke_record_without_jsonschema_is_written_unvalidated(tmp_path, monkeypatch):
    results, nvml = _fake_results(1)
    rec = gpu_smoke.pooled_record(results, env.collect(cuda=gpu.cuda_info(cuda=FakeCuda(), nvml=nvml)))
    real_find_spec = gpu_smoke.importlib.util.find_spec
    monkeypatch.setattr(gpu_smoke.importlib.util, "find_spec",
                        lambda name, *a: None if name == "jsonschema" else real_find_spec(name, *a))
    path, validated = gpu_smoke.write_record(rec, tmp_path / "a.json")
    assert validated is False and record.load(path)["profile"] == "gpu-smoke"  # valid where it is read
    with pytest.raises(gpu_smoke.HarnessError, match="jsonschema"):
        gpu_smoke.write_baseline(rec, tmp_path / "base.json")


def test_compare_judges_a_smoke_record_against_another_runs_baseline(tmp_path, capsys):
    from harness import cli

    results, nvml = _fake_results(2)
    environment = env.collect(cuda=gpu.cuda_info(cuda=FakeCuda(), nvml=nvml, cuda_version="12.8"))
    rec_a = gpu_smoke.pooled_record(results, environment)
    base = gpu_smoke.write_baseline(rec_a, tmp_path / "baseline-a.json")
    rec_b = gpu_smoke.pooled_record(_fake_results(2)[0], environment)
    path_b, _ = gpu_smoke.write_record(rec_b, tmp_path / "b.json")
    code = cli.main(["compare", str(path_b), "--baseline", str(base), "--format", "json"])
    out = capsys.readouterr().out
    assert code not in (2, 3), out  # judged: not an error, not "no comparable baseline"
    assert "train.wall_s" in out and "quality.final_train_loss" in out


def test_pin_one_gpu_makes_the_run_gpu_the_only_visible_one():
    gpus = [FakeGpu(), FakeGpu()]
    nvml = FakeNvml(gpus)
    environ = {}
    assert gpu_smoke.pin_one_gpu(environ, nvml) == gpus[0].uuid
    assert environ == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": gpus[0].uuid}
    environ = {"CUDA_VISIBLE_DEVICES": "1,0"}
    assert gpu_smoke.pin_one_gpu(environ, nvml) == gpus[1].uuid and environ["CUDA_VISIBLE_DEVICES"] == gpus[1].uuid
    nvml.fail.add("nvmlInit")
    environ = {"CUDA_VISIBLE_DEVICES": "0"}
    assert gpu_smoke.pin_one_gpu(environ, nvml) is None and environ == {"CUDA_VISIBLE_DEVICES": "0"}


def test_smoke_without_cuda_sets_no_determinism_state(tmp_path, monkeypatch):
    if gpu._default_cuda() is not None:
        pytest.skip("this machine has CUDA")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert gpu_smoke.main(["--out", str(tmp_path / "r.json")]) == 2
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # refused before configure_determinism
