"""Synthetic but realistic run records for the comparison tests (no pipeline run needed).

Each repetition draws a shared machine-load factor (it slows every stage and the machine-speed
probe alike) and a smaller independent jitter per stage, from a seeded generator;
memory gets a few MiB of sampler jitter. Planted changes are given as factors or extra
bytes per stage. The shape follows harness.run.runner's records; every one is schema-validated.
"""

from __future__ import annotations

import numpy as np

from harness.documents import baseline, record
from harness.measure import environment as env

# stage: (wall_s, cpu_s per wall_s, peak_rss_bytes); the proportions of a ci-profile run
STAGES = {
    "imports": (3.3, 0.98, 0.55e9), "synthetic": (0.35, 1.0, 0.62e9), "etl": (2.4, 1.3, 0.90e9),
    "splits": (0.30, 1.0, 0.80e9), "schema": (0.06, 1.0, 0.80e9), "model": (0.09, 1.0, 0.82e9),
    "train": (9.5, 1.8, 1.35e9), "evaluate": (1.9, 1.7, 1.30e9), "checkpoint": (0.7, 1.5, 1.30e9),
}
COUNTS = {"synthetic": 100_000, "etl": 100_000, "train": 41_216, "evaluate": 4_224}
RATES = {"synthetic": "rows_per_s", "etl": "rows_per_s", "train": "samples_per_s", "evaluate": "samples_per_s"}
QUALITY = {"ndcg_at_20": 0.1661, "ndcg_at_40": 0.2283, "recall_at_20": 0.3912, "recall_at_40": 0.6187,
           "final_train_loss": 7.912, "eval_sessions": 1006}
MiB = 2**20
# what selects the numeric kernels (harness/measure/numerics.py): the same host on both sides unless a test says otherwise
NUMERICS = {"cpu": {"vendor": "AuthenticAMD", "family": 25, "model": 1, "stepping": 1, "model_name": "AMD EPYC"},
            "isa": ["avx", "avx2", "fma"], "numpy": {"version": "1.26.4", "cpu_features": ["AVX2", "FMA3"],
                                                    "dispatch_disabled": None},
            "torch": {"version": "2.13.0", "cpu_capability": "AVX2", "blas": {}, "onednn": "3.5", "threads": 1},
            "gpu": {}, "fingerprint": "e2e2e2e2e2e2e2e2"}
FILE_BACKED = 200 * MiB  # RSS minus anonymous RSS: the shared libraries' mapped pages


def environment(**changes) -> dict:
    e = {"python": "3.11.9", "os": "Linux 6.1.0", "cpu_model": "Example CPU @ 2.20GHz", "cpu_count": 2,
         "ram_bytes": 24 * 2**30, "cuda": {}, "git": {"commit": "0123456789abcdef0123", "dirty": False},
         "machine_class": "cpu-2c-x86_64",
         "packages": {"torch": "2.13.0", "transformers4rec": "23.12.0", "nvtabular": "23.8.0", "numpy": "1.26.4"},
         "numerics": NUMERICS, "numerics_fingerprint": NUMERICS["fingerprint"]}
    for key, value in changes.items():
        if key.startswith("packages."):
            e["packages"] = {**e["packages"], key.split(".", 1)[1]: value}
        else:
            e[key] = value
    e["fingerprint"] = env.fingerprint(e)
    return e


def _repetition(rng, noise: float, slow: dict, extra_bytes: dict, speed: float) -> tuple[dict, float]:
    load = 1 + noise * rng.standard_normal()
    values = {}
    for stage, (wall, cpu_ratio, rss) in STAGES.items():
        w = wall * load * (1 + 0.5 * noise * rng.standard_normal()) * slow.get(stage, 1.0)
        values[f"{stage}.wall_s"] = w
        values[f"{stage}.cpu_s"] = w * cpu_ratio * (1 + 0.3 * noise * rng.standard_normal())
        values[f"{stage}.peak_rss_bytes"] = round(rss + 2 * MiB * rng.standard_normal()) + extra_bytes.get(stage, 0)
        values[f"{stage}.peak_anon_bytes"] = (round(rss - FILE_BACKED + 2 * MiB * rng.standard_normal())
                                              + extra_bytes.get(stage, 0))
    for stage, metric in RATES.items():
        values[f"{stage}.{metric}"] = COUNTS[stage] / values[f"{stage}.wall_s"]
    values["total.wall_s"] = sum(values[f"{s}.wall_s"] for s in STAGES)
    values["total.cpu_s"] = sum(values[f"{s}.cpu_s"] for s in STAGES)
    values["total.peak_rss_bytes"] = max(values[f"{s}.peak_rss_bytes"] for s in STAGES)
    values["total.peak_anon_bytes"] = max(values[f"{s}.peak_anon_bytes"] for s in STAGES)
    return values, speed * load * (1 + 0.2 * noise * rng.standard_normal())


def make_record(seed: int = 0, repeat: int = 1, noise: float = 0.01, slow: dict | None = None,
                extra_bytes: dict | None = None, quality: dict | None = None, speed: float = 0.40,
                environment_: dict | None = None, workload_hash: str = "c1c1c1c1c1c1c1c1", profile: str = "ci",
                faults: dict | None = None, drop: tuple = (), status: str = "ok", run_id: str | None = None) -> dict:
    """A validated run record of ``repeat`` repetitions; ``slow`` = {stage: factor}, ``extra_bytes`` = {stage: n}."""
    rng = np.random.default_rng(seed)
    reps = [_repetition(rng, noise, slow or {}, extra_bytes or {}, speed) for _ in range(repeat)]
    q = {**QUALITY, **(quality or {})}
    names = [n for n in reps[0][0] if n not in drop]
    measurements = [record.measurement(n, [r[0][n] for r in reps]) for n in names]
    measurements += [record.measurement(f"quality.{k}", [v] * repeat) for k, v in q.items()
                     if f"quality.{k}" not in drop]
    rec = {
        "schema_version": record.SCHEMA_VERSION, "kind": record.KIND,
        "run_id": run_id or f"20240501T120000-{seed:06d}", "profile": profile, "status": status,
        "started_at": "2024-05-01T12:00:00+00:00", "finished_at": "2024-05-01T12:01:00+00:00",
        "command": "t4rec-bench run --profile ci", "config": {"profile": profile, "seed": 42, "data": {"rows": 100000}},
        "config_hash": "f" * 16, "workload_hash": workload_hash, "faults": faults or {}, "instrumented": True,
        "repeat": repeat, "environment": environment_ or environment(),
        "machine_speed": {"speed_s": [r[1] for r in reps]}, "stages": [], "measurements": measurements,
        "days": [], "fingerprints": {}, "timeline": {},
        "failure": None if status == "ok" else {"stage": "train", "kind": "nan_loss", "message": "loss is nan"},
    }
    record.validate(rec)
    return rec


def make_baseline(seed: int = 1000, repeat: int = 10, seeds: dict | None = None, **kw) -> dict:
    """A baseline document around ``make_record(seed, repeat)``; ``seeds`` = {name: values} as a seed spread."""
    rec = make_record(seed=seed, repeat=repeat, run_id=f"20240430T120000-{seed:06d}", **kw)
    doc = baseline.build(rec, command="t4rec-bench baseline record --profile ci --repeat 10")
    doc["provenance"]["date"] = "2024-04-30T12:00:00+00:00"
    if seeds:
        doc["seed_spread"] = {"seeds": list(range(42, 42 + len(next(iter(seeds.values()))))), "samples": seeds}
    return doc


def minimal_record(i: int, commit: str, etl_wall_s: float, profile: str = "nightly", ndcg: float = 0.17) -> dict:
    """A minimal valid run record (the current schema_version) with a few measurements, for history and
    change points."""
    from harness.documents import record

    started = f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00"
    measurements = [record.measurement("etl.wall_s", etl_wall_s), record.measurement("quality.ndcg_at_20", ndcg),
                    record.measurement("train.samples_per_s", 1000.0)]
    rec = {
        "schema_version": record.SCHEMA_VERSION, "kind": record.KIND, "run_id": f"run-{i:03d}", "profile": profile,
        "status": "ok", "started_at": started, "finished_at": started, "config": {}, "config_hash": "c" * 16,
        "workload_hash": ("w" if profile == "nightly" else "s") * 16, "faults": {}, "instrumented": True,
        "repeat": 1,
        "environment": {"python": "3.11", "os": "Linux", "cpu_model": "cpu", "cpu_count": 2, "ram_bytes": 1,
                        "packages": {}, "git": {"commit": commit, "dirty": False},
                        "machine_class": "cpu-2c-x86_64", "fingerprint": "f" * 16},
        "stages": [], "measurements": measurements, "days": [], "fingerprints": {}, "failure": None,
    }
    record.validate(rec)
    return rec
