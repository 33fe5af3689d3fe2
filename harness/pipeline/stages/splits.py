"""Per-day train/valid/test parquet files with the tutorial's semantics.

Upstream's ``save_time_based_splits`` is broken on CPU (stack-facts.md), so this is our
own: per day, sort sessions by session id, draw uniforms from a generator seeded with
``split_seed``, and cut 80/10/10.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.config import SplitConfig

PARTITION_COL = "day-first"
SORT_COL = "session_id"
SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitsResult:
    root: Path  # root/<day>/{train,valid,test}.parquet
    counts: dict  # {day: {"train": n, "valid": n, "test": n}}

    def path(self, day: int, split: str) -> Path:
        return self.root / str(day) / f"{split}.parquet"


def assign(n: int, cfg: SplitConfig) -> np.ndarray:
    """Split index (0 train, 1 valid, 2 test) for ``n`` rows already sorted."""
    r = np.random.default_rng(cfg.split_seed).random(n)
    train_cut = 1.0 - cfg.valid_fraction - cfg.test_fraction
    return np.where(r <= train_cut, 0, np.where(r <= train_cut + cfg.valid_fraction, 1, 2))


def run(cfg: SplitConfig, sessions_path: Path, out_dir: Path) -> SplitsResult:
    """Write the splits of every day found in the ETL output.

    Bounded in memory by one day: only the day column is read for all sessions, then one day's
    rows at a time; the sort moves indices, not rows, and each split is taken once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(sorted(str(p) for p in Path(sessions_path).glob("*.parquet")), format="parquet")
    days = pc.unique(dataset.to_table(columns=[PARTITION_COL]).column(0)).to_pylist()
    counts = {}
    for day in sorted(days):
        counts[int(day)] = _write_day(cfg, dataset.to_table(filter=ds.field(PARTITION_COL) == day),
                                      out_dir / str(day))
        pa.default_memory_pool().release_unused()
    return SplitsResult(out_dir, counts)


def _write_day(cfg: SplitConfig, table, day_dir: Path) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    order = pc.sort_indices(table, sort_keys=[(SORT_COL, "ascending")]).to_numpy()
    which = assign(len(order), cfg)
    day_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for idx, name in enumerate(SPLIT_NAMES):
        part = table.take(order[which == idx])
        pq.write_table(part, day_dir / f"{name}.parquet")
        counts[name] = part.num_rows
    return counts
