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
