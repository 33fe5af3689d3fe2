"""Scale-out (issue #6): out-of-core ETL across partitions, the dask cluster, DDP, the cost curve."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sweep_fixtures import EXPONENTS, fake_record

from harness.config import DataConfig, EtlConfig, ScaleConfig, build_config
from harness.documents import record
from harness.errors import HarnessError, StageFailure
from harness.pipeline import scale
from harness.run import sweep

# ---------------------------------------------------------------- the power-law fit (pure)


def test_fit_recovers_an_exact_power_law():
    x = np.array([1e5, 1e6, 1e7, 3e7])
    f = sweep.fit_power_law(x, 2.5e-5 * x ** 1.2)
    assert f.k == pytest.approx(1.2, abs=1e-12)
    assert f.log10_c == pytest.approx(math.log10(2.5e-5), abs=1e-10)
    assert f.r2 == pytest.approx(1.0) and f.k_stderr == pytest.approx(0.0, abs=1e-12) and f.n_points == 4


def test_fit_interval_covers_the_true_exponent_under_noise():
    rng = np.random.default_rng(7)
    x = np.geomspace(1e4, 1e8, 9)
    y = 3.0 * x ** 0.8 * rng.lognormal(0.0, 0.1, x.size)
    f = sweep.fit_power_law(x, y)
    assert f.k_ci95[0] < 0.8 < f.k_ci95[1]
    assert f.k_stderr > 0 and f.k_ci95[1] - f.k_ci95[0] < 0.2


def test_fit_of_two_points_has_no_interval_and_constant_time_gives_zero():
    f = sweep.fit_power_law([1e5, 1e6], [2.0, 20.0])
    assert f.k == pytest.approx(1.0, abs=1e-12) and f.k_stderr is None and f.k_ci95 is None and f.r2 is None
    assert sweep.fit_power_law([1e5, 1e6, 1e7], [2.0, 2.0, 2.0]).k == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("x, y", [([1e5, 1e5], [1.0, 2.0]), ([1e5, 1e6], [0.0, 1.0]), ([1e5], [1.0]),
                                  ([1e5, 1e6], [1.0, float("nan")])])
def test_fit_rejects_what_no_power_law_fits(x, y):
    with pytest.raises(ValueError):
        sweep.fit_power_law(x, y)


# ---------------------------------------------------------------- sweep points, summary, file


def test_sweep_runs_each_point_keeps_records_and_fits_known_exponents(tmp_path):
    points = sweep.run_sweep("smoke", [100_000, 1_000, 10_000], [0, 2], {}, tmp_path, run=fake_record)
    assert [(p["rows"], p["engine"]) for p in points] == [
        (1_000, "in-process"), (1_000, "local:2"), (10_000, "in-process"), (10_000, "local:2"),
        (100_000, "in-process"), (100_000, "local:2")]
    assert all(record.load(p["record"])["config"]["data"]["rows"] == p["rows"] for p in points)
    doc = sweep.summarize(points, "t4rec-bench sweep")
    k = {(f["engine"], f["quantity"], f["stage"]): f["k"] for f in doc["fits"]}
    for engine in ("in-process", "local:2"):
        for stage, exponent in EXPONENTS.items():
            assert k[(engine, "wall_s", stage)] == pytest.approx(exponent, abs=1e-9)
        assert k[(engine, "peak_rss_bytes", "total")] == pytest.approx(0.1, abs=1e-9)
    etl_speedups = [s["speedup"] for s in doc["speedups"] if s["stage"] == "etl"]
    assert etl_speedups == pytest.approx([2.0, 2.0, 2.0])
    assert doc["machine_class"] == "cpu-2c-test" and doc["rows"] == [1_000, 10_000, 100_000]


def test_failed_points_are_kept_but_not_fitted(tmp_path):
    def run(config, **kw):
        return fake_record(config, status="failed" if config.data.rows == 1_000 else "ok")

    points = sweep.run_sweep("smoke", [1_000, 10_000, 100_000], None, {}, tmp_path, run=run)
    doc = sweep.summarize(points, "x")
    assert [p["status"] for p in doc["points"]] == ["failed", "ok", "ok"]
    assert {f["n_points"] for f in doc["fits"]} == {2}


# ---------------------------------------------------------------- configuration


def test_cluster_size_is_not_workload_but_world_size_is():
    base = build_config("smoke")
    assert "scale" not in base.workload_dict()  # single-process hashes stay as they were
    assert build_config("smoke", {"scale.cluster": "local:2"}).workload_hash() == base.workload_hash()
    assert build_config("smoke", {"scale.scheduler": "tcp://127.0.0.1:8786"}).workload_hash() == base.workload_hash()
    assert build_config("smoke", {"scale.nproc": 2}).workload_hash() != base.workload_hash()


@pytest.mark.parametrize("overrides, message", [
    ({"scale.cluster": "local:0"}, "scale.cluster='local:0'"),
    ({"scale.cluster": "yarn:2"}, "local:N"),
    ({"scale.cluster": "local:2", "scale.scheduler": "tcp://x:1"}, "not both"),
    ({"scale.nproc": 0}, "scale.nproc=0"),
    ({"scale.nproc": 3}, "multiple of scale.nproc"),
])
def test_bad_scale_settings_name_the_field(overrides, message):
    with pytest.raises(HarnessError, match=message):
        build_config("smoke", overrides)


# ---------------------------------------------------------------- DDP helpers (no torchrun)


class _Parts:
    def __init__(self, root):
        self.root = root

    def path(self, day, split):
        return self.root / str(day) / f"{split}.parquet"


def test_training_days_are_cut_into_equal_disjoint_shards(tmp_path):
    parts = _Parts(tmp_path / "splits")
    for day, n in ((1, 11), (2, 8)):
        parts.path(day, "train").parent.mkdir(parents=True)
        pd.DataFrame({"session_id": np.arange(n) + 100 * day}).to_parquet(parts.path(day, "train"))
    shards = scale.shard_train(parts, 1, 2, 3, 2, tmp_path / "shards")
    assert shards.rows_per_rank == {1: 3, 2: 2} and shards.dropped == {1: 2, 2: 2}
    got = [pd.read_parquet(p).session_id.tolist() for p in shards.paths[1]]
    assert got == [[100, 103, 106], [101, 104, 107], [102, 105, 108]]  # strided, equal, disjoint
    with pytest.raises(StageFailure, match="fewer than one per-device batch") as exc:
        scale.shard_train(parts, 1, 2, 3, 3, tmp_path / "again")
    assert exc.value.kind == "too_small"


def test_torchrun_runs_on_loopback_and_a_rank_error_becomes_the_stage_failure(tmp_path):
    cmd = scale.torchrun_command(2, scale.free_port(), tmp_path / "spec.json")
    assert cmd[cmd.index("--master_addr") + 1] == "127.0.0.1" and cmd[cmd.index("--nproc_per_node") + 1] == "2"
    assert cmd[-3:] == ["-m", "harness.pipeline.ddp_train", str(tmp_path / "spec.json")]
    (tmp_path / "torchrun.log").write_text("lots of output\nthe end")
    crash = scale._failure(tmp_path, 1)
    assert crash.kind == "crash" and "the end" in str(crash)
    (tmp_path / "error-rank1.json").write_text(json.dumps({"kind": "nan_loss", "message": "loss is nan"}))
    err = scale._failure(tmp_path, 1)
    assert err.kind == "nan_loss" and "error-rank1: loss is nan" in str(err)


# ---------------------------------------------------------------- real ETL, cluster and DDP (slow)

TINY = DataConfig(rows=6000, chunk_rows=6000)


def _frame(path):
    return pd.concat([pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))], ignore_index=True)


@pytest.fixture(scope="module")
def raw_one_file(tmp_path_factory):
    from harness.pipeline.stages import synthetic

    return synthetic.generate(TINY, 3, tmp_path_factory.mktemp("raw1"))


@pytest.fixture(scope="module")
def raw_four_files(raw_one_file, tmp_path_factory):
    """The same rows, in the same order, cut into four files (four partitions)."""
    folder = tmp_path_factory.mktemp("raw4")
    df = _frame(raw_one_file.path)
    for i, chunk in enumerate(np.array_split(np.arange(len(df)), 4)):
        df.iloc[chunk].to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def etl_four(raw_four_files, tmp_path_factory):
    from harness.pipeline.stages import etl

    return etl.run(EtlConfig(), raw_four_files, TINY.rows, tmp_path_factory.mktemp("etl4"))


@pytest.mark.slow
def test_groupby_across_partitions_gives_whole_sessions_in_input_order(raw_one_file, etl_four, tmp_path):
    from harness.pipeline.stages import etl

    assert etl_four.partitions == 4
    one = etl.run(EtlConfig(), raw_one_file.path, TINY.rows, tmp_path / "one")
    assert one.partitions == 1
    by_session = lambda df: df.sort_values("session_id", ignore_index=True)  # noqa: E731
    pd.testing.assert_frame_equal(by_session(_frame(etl_four.output_path)), by_session(_frame(one.output_path)))
    raw = _frame(raw_one_file.path)
    counts = raw.groupby("session_id").size()
    expected = {tuple(v[:20]) for s, v in raw.groupby("session_id")["timestamp/age_days"].apply(list).items()
                if counts[s] >= 2}
    got = _frame(etl_four.output_path)
    assert {tuple(v) for v in got["timestamp/age_days-list_trim"]} == expected  # one row each, all items, in order
    assert sorted(got["item_id-count"]) == sorted(counts[counts >= 2])


@pytest.mark.slow
def test_etl_on_a_local_two_worker_cluster_matches_in_process(raw_four_files, etl_four, tmp_path):
    from harness.pipeline.chain import etl_fingerprint
    from harness.pipeline.stages import etl

    cluster = scale.start_dask(ScaleConfig(cluster="local:2"), "pandas", tmp_path)
    try:
        info = cluster.describe()
        out = etl.run(EtlConfig(), raw_four_files, TINY.rows, tmp_path / "etl", client=cluster.client)
    finally:
        cluster.close()
    assert (info["dask_cluster"], info["dask_workers"], info["dask_threads_per_worker"]) == ("LocalCluster", 2, 1)
    assert info["dask_scheduler"].startswith("tcp://127.0.0.1:")
    assert etl_fingerprint(out.output_path) == etl_fingerprint(etl_four.output_path)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_completes_with_sound_metrics():
    from harness.run import runner

    rec = runner.run(build_config("smoke", {"scale.nproc": 2}))
    failure = rec.get("failure") or {}
    if failure.get("kind") == "crash" and "no rank reported an error" in failure.get("message", ""):
        # gloo on loopback aborts now and then with no rank's error (SIGABRT from an uncaught
        # gloo::IoException: pytorch/pytorch#188266, pytorch/gloo#514; once in a CI run of this suite,
        # 2026-12-03, and not again alone): the record says so; a second crash fails the test
        rec = runner.run(build_config("smoke", {"scale.nproc": 2}))
    assert rec["status"] == "ok", rec["failure"]
    record.validate(rec)
    s = rec["scale"]
    assert (s["world_size"], s["ddp_backend"], s["per_device_train_batch_size"]) == (2, "gloo", 128)
    assert s["replicas_equal"] is True
    assert [d["eval_day"] for d in rec["days"]] == [2, 3]
    for day in rec["days"]:
        assert math.isfinite(day["train_loss"])
        assert all(0.0 <= v <= 1.0 for v in day["metrics"].values()) and len(day["metrics"]) == 4
    assert rec["checkpoint"]["equal"] is True
