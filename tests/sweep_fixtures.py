"""Run records of a fake sweep whose stage times follow known power laws of the rows: for the cost
curve's tests (tests/run/test_scale.py) and the sweep command's (tests/commands/test_sweep_command.py)."""

from __future__ import annotations

from harness.documents import record

ENV = {"python": "3.11", "os": "linux", "cpu_model": "test", "cpu_count": 2, "ram_bytes": 1, "packages": {},
       "git": {}, "machine_class": "cpu-2c-test", "fingerprint": "f"}
EXPONENTS = {"synthetic": 1.0, "etl": 1.1, "train": 0.5, "evaluate": 0.0}


def fake_record(config, repeat=1, progress=None, status="ok"):
    """A valid run record whose stage times follow known power laws of the rows."""
    rows = config.data.rows
    speed = 2.0 if config.scale.cluster == "local:2" else 1.0  # "local:2" runs the ETL twice as fast
    walls = {s: 1e-4 * rows ** k / (speed if s == "etl" else 1.0) for s, k in EXPONENTS.items()}
    ms = [record.measurement(f"{s}.wall_s", w) for s, w in walls.items()]
    ms += [record.measurement("total.wall_s", sum(walls.values())),
           record.measurement("total.peak_rss_bytes", 5e8 * rows ** 0.1),
           record.measurement("etl.rows_per_s", rows / walls["etl"])]
    return {"schema_version": record.SCHEMA_VERSION, "kind": record.KIND, "run_id": f"r{rows}",
            "profile": config.profile, "status": status, "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:01:00+00:00", "config": config.to_dict(), "config_hash": "c",
            "workload_hash": config.workload_hash(), "faults": {}, "instrumented": True, "repeat": 1,
            "environment": ENV, "stages": [], "measurements": ms, "days": [], "fingerprints": {},
            "failure": None if status == "ok" else {"stage": "etl", "kind": "crash", "message": "x"}}
