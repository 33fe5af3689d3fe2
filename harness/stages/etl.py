"""The tutorial's NVTabular workflow: Categorify, Groupby session, ListSlice, Filter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import EtlConfig

SEQUENCE_FEATURES = ("category-list", "item_id-list", "timestamp/age_days-list", "timestamp/weekday/sin-list")


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
    groupby_feats = categ_feats + ["day", "timestamp/age_days", "timestamp/weekday/sin"]
    groupby_features = groupby_feats >> nvt.ops.Groupby(
        groupby_cols=["session_id"],
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

    With more than one input partition the rows are first shuffled by session key, so that
    Groupby sees every row of a session in one partition. ``client`` is an optional
    dask.distributed client (scale-out); without it NVTabular runs in this process.
    """
    import nvtabular as nvt

    files = sorted(str(p) for p in Path(input_path).glob("*.parquet"))
    dataset = nvt.Dataset(files, engine="parquet", cpu=cpu)
    if dataset.npartitions > 1:
        dataset = dataset.shuffle_by_keys(["session_id"])
    workflow = build_workflow(cfg, out_dir)
    if client is not None:
        workflow = nvt.Workflow(workflow.output_node, client=client)
    workflow.fit(dataset)
    out = out_dir / "sessions"
    workflow.transform(dataset).to_parquet(str(out), output_files=max(1, dataset.npartitions))
    workflow_path = out_dir / "workflow_etl"
    workflow.save(str(workflow_path))
    import pyarrow.parquet as pq

    output_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(out.glob("*.parquet")))
    return EtlResult(out, workflow_path, input_rows, output_rows, dataset.npartitions)
