import json
from pathlib import Path

import pytest

from harness.documents import atomic, record
from harness.errors import HarnessError


def test_measurement_derives_unit_kind_direction():
    assert record.measurement("etl.wall_s", [2.0, 1.0, 3.0]) == {
        "name": "etl.wall_s", "unit": "s", "value": 2.0, "samples": [2.0, 1.0, 3.0],
        "higher_is_better": False, "kind": "time"}
    assert record.measurement("train.samples_per_s", 5)["higher_is_better"] is True
    assert record.measurement("quality.ndcg_at_20", 0.2)["kind"] == "metric"
    assert record.measurement("total.peak_rss_bytes", 1)["kind"] == "memory"
    assert record.measurement("quality.final_train_loss", 1)["higher_is_better"] is False
    with pytest.raises(ValueError):
        record.measurement("etl.mystery", 1)


def test_merge_pools_samples():
    def rec(v):
        return {"measurements": [record.measurement("etl.wall_s", v)], "status": "ok", "failure": None,
                "finished_at": str(v), "machine_speed": {"speed_s": [v / 10]}}

    merged = record.merge_repetitions([rec(1.0), rec(3.0), rec(2.0)])
    m = record.by_name(merged)["etl.wall_s"]
    assert m["samples"] == [1.0, 3.0, 2.0] and m["value"] == 2.0 and merged["repeat"] == 3
    assert merged["machine_speed"]["speed_s"] == [0.1, 0.3, 0.2]


def test_merge_ors_throttling_over_every_repetition_and_joins_the_reasons():
    def rec(throttled, reasons):
        return {"measurements": [record.measurement("train.wall_s", 1.0)], "status": "ok", "failure": None,
                "finished_at": "t", "gpu": {"uuid": "GPU-run", "name": "H100", "throttled": throttled,
                                            "throttle_reasons": reasons, "start": {}, "end": {}}}

    calm, hot = rec(False, ["sw_power_cap"]), rec(True, ["hw_thermal_slowdown", "sw_power_cap"])
    merged = record.merge_repetitions([calm, hot, rec(True, ["hw_slowdown"])])
    assert merged["gpu"]["throttled"] is True
    assert merged["gpu"]["throttle_reasons"] == ["hw_slowdown", "hw_thermal_slowdown", "sw_power_cap"]
    assert merged["gpu"]["uuid"] == "GPU-run" and merged["gpu"]["start"] is calm["gpu"]["start"]
    assert calm["gpu"]["throttled"] is False  # the repetitions themselves are left as they were
    assert record.merge_repetitions([calm, calm])["gpu"]["throttled"] is False
    assert record.merge_repetitions([rec(False, None), rec(False, [])])["gpu"]["throttle_reasons"] == []
    cpu = {**calm, "gpu": None}
    assert record.merge_repetitions([cpu, cpu])["gpu"] is None
    assert record.merge_repetitions([cpu, hot])["gpu"]["throttled"] is True  # no health in the first


def test_merge_lists_the_nondeterministic_ops_of_every_repetition():
    def rec(ops=None):
        extra = {} if ops is None else {"nondeterministic_ops": ops}
        return {"measurements": [record.measurement("train.wall_s", 1.0)], "status": "ok", "failure": None,
                "finished_at": "t", **extra}

    merged = record.merge_repetitions([rec(["b"]), rec(), rec(["a", "b"])])
    assert merged["nondeterministic_ops"] == ["a", "b"]
    assert "nondeterministic_ops" not in record.merge_repetitions([rec(), rec()])


@pytest.mark.slow
def test_real_record_validates_against_schema(smoke_record, tmp_path):
    record.validate(smoke_record)
    path = record.write(smoke_record, tmp_path / "r.json")
    assert record.load(path) == json.loads(path.read_text())


@pytest.mark.slow
def test_record_content(smoke_record):
    ms = record.by_name(smoke_record)
    for stage in ("synthetic", "etl", "splits", "schema", "model", "train", "evaluate", "checkpoint"):
        assert ms[f"{stage}.wall_s"]["value"] > 0
        assert ms[f"{stage}.peak_rss_bytes"]["value"] > 50 * 2**20
    for name in ("etl.rows_per_s", "train.samples_per_s", "evaluate.samples_per_s", "quality.ndcg_at_20"):
        assert name in ms
    assert ms["total.peak_rss_bytes"]["value"] >= ms["train.peak_rss_bytes"]["value"]
    day = smoke_record["days"][-1]
    assert day["eval_sessions"] > 0 and set(day["metrics"]) == {"ndcg_at_20", "ndcg_at_40", "recall_at_20",
                                                                 "recall_at_40"}
    assert smoke_record["checkpoint"]["equal"] is True
    assert smoke_record["environment"]["packages"]["transformers4rec"] == "23.12.0"
    assert len(smoke_record["timeline"]["t_s"]) == len(smoke_record["timeline"]["rss_bytes"]) > 10


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"kind": "something-else"}', "not a t4rec-bench run record"),
    ('{"kind": "t4rec-bench/run", "schema_version": 2}', "invalid at"),
])
def test_bad_records_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(HarnessError, match=message) as exc:
        record.load(path)
    assert exc.value.exit_code == 2


def test_history_is_append_only(tmp_path):
    first = atomic.write_new_json(tmp_path, "run", {"a": 1})
    second = atomic.write_new_json(tmp_path, "run", {"a": 2})
    assert first != second
    assert json.loads(first.read_text()) == {"a": 1} and json.loads(second.read_text()) == {"a": 2}


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.json"
    atomic.write_json(target, {"ok": 1})
    with pytest.raises(ValueError):
        atomic.write_json(target, {"bad": float("nan")})  # allow_nan=False
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


# the ci baseline recorded at 657a6bf, as written (a frozen copy: tests/documents/test_old_documents.py)
BASELINE = Path(__file__).resolve().parents[2] / "tests" / "data" / "old_documents" / "ci-20261127T214302.json"


def test_old_record_without_new_fields_still_validates_and_loads(tmp_path):
    """A record written before distributions, numerics and the synthetic/splits fingerprints."""
    old = json.loads(BASELINE.read_text())["record"]
    assert "distributions" not in old["environment"] and "numerics" not in old["environment"]
    assert "synthetic" not in old["fingerprints"] and "splits" not in old["fingerprints"]
    record.validate(record.upgrade(old))
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert record.load(path) == record.upgrade(old)


def _with_new_fields(rec: dict) -> dict:
    from harness.measure import numerics

    rec = record.upgrade(json.loads(json.dumps(rec)))
    info = {**numerics.host(), "numpy": {"version": "1.26.4", "cpu_features": ["AVX2"], "dispatch_disabled": None},
            "torch": {"version": "2", "cpu_capability": "AVX2", "blas": {"blas_info": "mkl"}, "onednn": "3.1",
                      "threads": 1}, "gpu": {}}
    info["fingerprint"] = numerics.fingerprint(info)
    rec["environment"].update(distributions={"numpy": "1.26.4"}, numerics=info,
                              numerics_fingerprint=info["fingerprint"])
    rec["fingerprints"] = {"synthetic": "a" * 16, **rec["fingerprints"], "splits": "b" * 16}
    return rec


def test_new_fields_validate_and_are_typed():
    rec = _with_new_fields(json.loads(BASELINE.read_text())["record"])
    record.validate(rec)
    rec["environment"]["distributions"]["numpy"] = None  # a distribution always has a version
    with pytest.raises(HarnessError, match="environment/distributions/numpy"):
        record.validate(rec)
    rec = _with_new_fields(json.loads(BASELINE.read_text())["record"])
    del rec["environment"]["numerics"]["torch"]
    with pytest.raises(HarnessError, match="environment/numerics"):
        record.validate(rec)

