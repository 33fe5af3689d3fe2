"""The tutorial's NVTabular workflow: Categorify, Groupby session, ListSlice, Filter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import EtlConfig

SEQUENCE_FEATURES = ("category-list", "item_id-list", "timestamp/age_days-list", "timestamp/weekday/sin-list")
ROW_ORDER = "__row"  # an input row's global position; Groupby sorts by it, so lists keep input order
PART_SIZE = "1GB"  # fixed, so the partition count does not depend on the machine's memory


@dataclass(frozen=True)
class EtlResult:
    output_path: Path  # folder of parquet files, one row per session
    workflow_path: Path
    input_rows: int
    output_rows: int
    partitions: int


def build_workflow(cfg: EtlConfig, categories_dir: Path):
    """The workflow; Categorify writes its category tables under ``categories_dir`` (not the cwd)."""
    import nvtabular as nvt

    # start_index=1 is gone (stack-facts): index 0 is padding, 1 nulls, 2 OOV, values from 3.
    categ_feats = ["session_id", "item_id", "category"] >> nvt.ops.Categorify(out_path=str(categories_dir))
    groupby_feats = categ_feats + ["day", "timestamp/age_days", "timestamp/weekday/sin", ROW_ORDER]
    groupby_features = groupby_feats >> nvt.ops.Groupby(
        groupby_cols=["session_id"],
        sort_cols=[ROW_ORDER],  # a shuffle may reorder rows within a partition; this undoes it
        aggs={
            "item_id": ["list", "count"],
            "category": ["list"],
            "day": ["first"],
            "timestamp/age_days": ["list"],
            "timestamp/weekday/sin": ["list"],
        },
        name_sep="-",
    )
    trimmed = (groupby_features[list(SEQUENCE_FEATURES)]
               >> nvt.ops.ListSlice(0, cfg.max_sequence_length) >> nvt.ops.Rename(postfix="_trim"))
    selected = groupby_features["item_id-count", "day-first", "session_id"] + trimmed
    min_len = cfg.min_session_length
    filtered = selected >> nvt.ops.Filter(f=lambda df: df["item_id-count"] >= min_len)
    return nvt.Workflow(filtered)


def run(cfg: EtlConfig, input_path: Path, input_rows: int, out_dir: Path, cpu: bool = True,
        client=None) -> EtlResult:
    """Fit and apply the workflow to the parquet files in ``input_path``; write sessions to parquet.

    Out of core: one partition per input file (row group), and with more than one partition the
    rows are first shuffled by session key, so that Groupby sees every row of a session in one
    partition; each session's lists keep the input order whatever the partitioning. The output
    has one file per partition. ``client`` is an optional dask.distributed client (scale-out);
    without it NVTabular runs in this process. The output's content does not depend on either.
    """
    import dask
    import nvtabular as nvt

    files = sorted(str(p) for p in Path(input_path).glob("*.parquet"))
    out = out_dir / "sessions"
    with dask.config.set(_dask_settings(client, out_dir)):
        raw = nvt.Dataset(files, engine="parquet", cpu=cpu, part_size=PART_SIZE)
        dataset = nvt.Dataset(with_row_order(raw.to_ddf()), cpu=cpu)
        if dataset.npartitions > 1:
            dataset = dataset.shuffle_by_keys(["session_id"])
        workflow = build_workflow(cfg, out_dir)
        if client is not None:
            workflow = nvt.Workflow(workflow.output_node, client=client)
        workflow.fit(dataset)
        workflow.transform(dataset).to_parquet(str(out), output_files=dataset.npartitions)
    workflow_path = out_dir / "workflow_etl"
    workflow.save(str(workflow_path))
    import pyarrow.parquet as pq

    output_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(out.glob("*.parquet")))
    return EtlResult(out, workflow_path, input_rows, output_rows, dataset.npartitions)


def _dask_settings(client, out_dir: Path) -> dict:
    """Without a client: dask's synchronous scheduler, so one partition is in memory at a time
    (the threaded one holds one per core). Shuffle spill files go under ``out_dir``."""
    tmp = out_dir / "dask-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    settings = {"temporary-directory": str(tmp)}
    if client is None:
        settings["scheduler"] = "synchronous"
    return settings


def with_row_order(ddf):
    """Add ``ROW_ORDER``: partition number in the high 32 bits, position within it in the low."""
    return ddf.map_partitions(_add_row_order, meta=_add_row_order(ddf._meta))


def _add_row_order(df, partition_info=None):
    import numpy as np

    base = (partition_info or {}).get("number", 0) << 32
    return df.assign(**{ROW_ORDER: np.arange(base, base + len(df), dtype=np.int64)})
