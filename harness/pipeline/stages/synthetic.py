"""Synthetic interactions with the tutorial's distributions, generated in chunks to parquet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.config import DataConfig


@dataclass(frozen=True)
class SyntheticResult:
    path: Path  # folder of part-NNNNN.parquet files
    rows: int
    sessions: int
    files: int


def chunk_bounds(rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + chunk_rows, rows)) for start in range(0, rows, chunk_rows)]


def _chunk_rngs(seed: int, n_chunks: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence([seed, 0x5E55]).spawn(n_chunks)


def _item_ids(rng: np.random.Generator, n: int, cfg: DataConfig) -> np.ndarray:
    raw = rng.lognormal(cfg.item_lognormal_mean, cfg.item_lognormal_sigma, n).astype(np.int32)
    return np.clip(raw, 1, cfg.item_max)


def category_edges(lo: int, hi: int, bins: int) -> np.ndarray:
    """Bin edges as ``pd.cut(x, bins=N)`` computes them over the whole data (first edge widened 0.1%)."""
    edges = np.linspace(lo, hi, bins + 1)
    edges[0] -= (hi - lo) * 0.001 if hi > lo else 0.001
    return edges


def generate(cfg: DataConfig, seed: int, out_dir: Path) -> SyntheticResult:
    """Write ``cfg.rows`` interactions as parquet chunks under ``out_dir``.

    Like the tutorial: session ids drawn uniformly per row (here from ``cfg.sessions`` ids, so
    sessions grow with rows), lognormal(3, 1) item ids clipped to [1, item_max], a category
    from ``category_bins`` equal-width bins over the item-id range, two uniform timestamp
    features, and one day in 1..num_days per session. Every chunk has its own child seed; the
    item-id range for the bins is found in a first pass, so no chunk needs the whole frame.
    The same seed and config always give the same bytes.
    """
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    bounds = chunk_bounds(cfg.rows, cfg.chunk_rows)
    seeds = _chunk_rngs(seed, len(bounds))
    day_of_session = np.random.default_rng([seed, 0xDA7]).integers(1, cfg.num_days + 1, cfg.sessions)
    lo, hi = _item_range(cfg, seeds, bounds)
    edges = category_edges(lo, hi, cfg.category_bins)
    for i, ((start, stop), ss) in enumerate(zip(bounds, seeds, strict=True)):
        n = stop - start
        rng = np.random.default_rng(ss)
        items = _item_ids(rng, n, cfg)
        sessions = rng.integers(0, cfg.sessions, n)
        df = pd.DataFrame({
            "session_id": sessions.astype(np.int64),
            "item_id": items,
            "category": np.searchsorted(edges, items, side="left").clip(1, cfg.category_bins).astype(np.int32),
            "timestamp/age_days": rng.uniform(0, 1, n),
            "timestamp/weekday/sin": rng.uniform(0, 1, n),
            "day": day_of_session[sessions].astype(np.int64),
        })
        df.to_parquet(out_dir / f"part-{i:05d}.parquet", index=False)
    return SyntheticResult(path=out_dir, rows=cfg.rows, sessions=cfg.sessions, files=len(bounds))


def _item_range(cfg: DataConfig, seeds, bounds) -> tuple[int, int]:
    lo, hi = cfg.item_max, 1
    for (start, stop), ss in zip(bounds, seeds, strict=True):
        items = _item_ids(np.random.default_rng(ss), stop - start, cfg)
        lo, hi = min(lo, int(items.min())), max(hi, int(items.max()))
    return lo, hi
