"""The cost curve: one profile run at several sizes (and dask worker counts), time ∝ rows^k fitted.

Records first: every point is a run record (``run_sweep`` runs them through harness.run.runner and
keeps them; ``seed_runs`` runs a profile at further seeds, for a baseline's seed spread); ``point``
reads one back, ``summarize`` turns points into the sweep document. ``fit_power_law`` is a pure
least-squares fit on log-log axes.

The sweep document's format, and its reading and writing, live in harness.documents.sweep.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.config import STAGE_ORDER
from harness.documents import record
from harness.documents import sweep as sweep_file
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError

IN_PROCESS = "in-process"


@dataclass(frozen=True)
class PowerFit:
    """``y = 10**log10_c * x**k``, fitted by least squares on log10 axes."""

    k: float
    log10_c: float
    k_stderr: float | None  # None with two points (no residual degrees of freedom)
    k_ci95: tuple[float, float] | None  # Student-t interval on k; None with two points
    r2: float | None  # None with two points, or when every y is equal
    n_points: int


def fit_power_law(x, y) -> PowerFit:
    """Fit ``y ∝ x**k``. Needs two or more distinct x; every x and y must be positive."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-d and of one length")
    if (x <= 0).any() or (y <= 0).any() or not np.isfinite(np.concatenate([x, y])).all():
        raise ValueError("a power law needs finite, positive x and y")
    if len(np.unique(x)) < 2:
        raise ValueError("a power law needs at least two distinct x")
    lx, ly = np.log10(x), np.log10(y)
    k, c = np.polyfit(lx, ly, 1)
    resid = ly - (c + k * lx)
    ss_res, ss_tot = float(resid @ resid), float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 and len(x) > 2 else None  # two points always fit exactly
    stderr, ci = _slope_interval(k, lx, ss_res)
    return PowerFit(float(k), float(c), stderr, ci, r2, len(x))


def _slope_interval(k: float, lx, ss_res: float):
    from harness.judge import stats

    return stats.slope_interval(k, lx, ss_res)


# ---------------------------------------------------------------- points and summary


def engine_label(config: dict) -> str:
    """How a record's point ran: its dask cluster and, when above one, the DDP world size."""
    scale = config.get("scale") or {}
    label = scale.get("cluster") or (f"scheduler {scale['scheduler']}" if scale.get("scheduler") else IN_PROCESS)
    nproc = scale.get("nproc", 1)
    return f"{label}, nproc={nproc}" if nproc > 1 else label


def point(rec: RunRecord, path: str | None = None) -> dict:
    """One sweep point read from a run record (its medians)."""
    by = record.by_name(rec)

    def per_stage(suffix: str) -> dict:
        return {n[: -len(suffix)]: m["value"] for n, m in by.items() if n.endswith(suffix)}

    return {"rows": rec["config"]["data"]["rows"], "engine": engine_label(rec["config"]), "profile": rec["profile"],
            "status": rec["status"],
            "run_id": rec["run_id"], "record": path, "failure": rec["failure"],
            "wall_s": per_stage(".wall_s"), "peak_rss_bytes": per_stage(".peak_rss_bytes"),
            "throughput": {n: m["value"] for n, m in by.items() if m["kind"] == "throughput"},
            "scale": rec.get("scale"), "machine_class": rec["environment"].get("machine_class"),
            "environment_fingerprint": rec["environment"].get("fingerprint")}


def fits(points: list[dict]) -> list[dict]:
    """Per engine and stage, the exponent of wall time (and of peak RSS) against rows."""
    out = []
    for engine in _engines(points):
        ok = [p for p in points if p["engine"] == engine and p["status"] == "ok"]
        if len({p["rows"] for p in ok}) < 2:
            continue
        for quantity in ("wall_s", "peak_rss_bytes"):
            for stage in _common_stages(ok, quantity):
                xs, ys = [p["rows"] for p in ok], [p[quantity][stage] for p in ok]
                if min(ys) <= 0:
                    continue
                f = fit_power_law(xs, ys)
                out.append({"engine": engine, "quantity": quantity, "stage": stage, **asdict(f),
                            "rows_min": min(xs), "rows_max": max(xs)})
    return out


def speedups(points: list[dict], stages=("etl", "total")) -> list[dict]:
    """At each size, each engine's speed against the first engine swept (baseline wall / wall)."""
    engines = _engines(points)
    out = []
    for rows in sorted({p["rows"] for p in points}):
        at = {p["engine"]: p for p in points if p["rows"] == rows and p["status"] == "ok"}
        base = at.get(engines[0]) if engines else None
        for engine, p in at.items():
            if base is None or engine == engines[0]:
                continue
            for stage in stages:
                if stage in p["wall_s"] and stage in base["wall_s"] and p["wall_s"][stage] > 0:
                    out.append({"rows": rows, "stage": stage, "engine": engine, "baseline_engine": engines[0],
                                "speedup": base["wall_s"][stage] / p["wall_s"][stage]})
    return out


def summarize(points: list[dict], command: str, created_at: str | None = None) -> dict:
    """The sweep document (harness.documents.sweep) from its points."""
    return {**sweep_file.FORMAT.stamp(),
            "created_at": created_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "profile": _one(points, "profile"), "command": command, "machine_class": _one(points, "machine_class"),
            "environment_fingerprint": _one(points, "environment_fingerprint"),
            "rows": sorted({p["rows"] for p in points}), "engines": _engines(points),
            "points": points, "fits": fits(points), "speedups": speedups(points)}


def _one(points: list[dict], key: str):
    """The value every point shares, or "mixed" (a sweep across machines is suspect)."""
    values = {p.get(key) for p in points}
    return values.pop() if len(values) == 1 else ("mixed" if values else None)


def _engines(points: list[dict]) -> list[str]:
    return list(dict.fromkeys(p["engine"] for p in points))  # in sweep order


def _common_stages(points: list[dict], quantity: str) -> list[str]:
    names = set.intersection(*(set(p[quantity]) for p in points))
    # in pipeline order; a stage that STAGE_ORDER lacks sorts just before "total"
    return sorted(names, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER) - 1, s))


# ---------------------------------------------------------------- running


def plan(rows: list[int], workers: list[int] | None) -> list[tuple[int, int | None]]:
    """The points in run order: sizes ascending, each size on every worker count in turn, so
    engines at one size are measured close together. ``None``: the profile's own cluster."""
    return [(r, w) for r in sorted(set(rows)) for w in (workers if workers else [None])]


def point_overrides(rows: int, workers: int | None) -> dict:
    """Config overrides of one point; workers 0 is in-process, N is a local:N dask cluster."""
    out: dict[str, int | str] = {"data.rows": rows}
    if workers is not None:
        out["scale.cluster"] = f"local:{workers}" if workers else ""
        out["scale.scheduler"] = ""
    return out


def run_sweep(profile: str, rows: list[int], workers: list[int] | None, overrides: dict, records_dir: Path,
              run=None, progress=None, on_point=None) -> list[dict]:
    """Run every point (harness.run.runner.run by default), keep each record under ``records_dir``;
    return the points. A failed point is kept (status "failed") and the sweep goes on."""
    from harness.config import build_config

    if run is None:
        from harness.run.runner import run
    points = []
    for size, w in plan(rows, workers):
        config = build_config(profile, {**overrides, **point_overrides(size, w)})
        rec = run(config, repeat=1, progress=progress)
        slug = engine_label(rec["config"]).replace(", ", "-").replace(":", "").replace(" ", "-").replace("=", "")
        path = record.write(rec, Path(records_dir) / f"rows-{size}-{slug}.json")
        points.append(point(rec, str(path)))
        if on_point:
            on_point(points[-1])
    return points


def seed_runs(config, seeds: int, quiet: bool) -> dict[int, RunRecord]:
    """One run of ``config`` at each of the ``seeds`` seeds after its own (seed + 1, ...), for a baseline's
    seed spread: {seed: record}. HarnessError at the first that fails."""
    import dataclasses

    from harness.output.progress import Progress
    from harness.run import runner

    out: dict[int, RunRecord] = {}
    for seed in range(config.seed + 1, config.seed + seeds + 1):
        rec = runner.run(dataclasses.replace(config, seed=seed), repeat=1, progress=Progress(enabled=not quiet))
        if (failure := rec["failure"]) is not None:  # a record's status is "failed" exactly when it has one
            raise HarnessError(f"seed {seed} failed: {failure['message']}; no baseline written")
        out[seed] = rec
    return out


def points_from_records(paths) -> list[dict]:
    """Points from run records already on disk (``sweep --from-records``): nothing is re-run."""
    recs = [(record.load(p), str(p)) for p in paths]
    recs.sort(key=lambda rp: (rp[0]["config"]["data"]["rows"], rp[0]["started_at"]))
    return [point(rec, path) for rec, path in recs]
