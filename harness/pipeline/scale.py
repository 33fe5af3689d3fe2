"""Scale-out engines: a dask cluster for the ETL, torchrun DDP for training.

The pipeline worker calls these; nothing here is a scheduler of its own. ``start_dask``
starts or joins a dask.distributed cluster and ``DaskCluster.close`` ends it. ``train_ddp``
shards each training day over the ranks, launches ``harness.pipeline.ddp_train`` through torchrun,
waits, and reads what rank 0 wrote. ``describe`` is what goes into ``record["scale"]``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import REPO_DIR
from harness.config import RunConfig, ScaleConfig
from harness.errors import StageFailure

if TYPE_CHECKING:  # imported where a cluster starts: distributed is heavy
    from distributed import Client, LocalCluster

LOOPBACK = "127.0.0.1"

LOG_TAIL_CHARS = 2000


def cluster_workers(spec: str) -> int:
    """Worker count of a ``local:N`` spec (validated in config.validate)."""
    return int(spec.partition(":")[2])


def uses_dask(cfg: ScaleConfig) -> bool:
    return bool(cfg.cluster or cfg.scheduler)


@dataclass
class DaskCluster:
    """A connected dask client and, when we started it, the cluster it owns."""

    client: Client
    kind: str  # LocalCluster | LocalCUDACluster | external
    cluster: LocalCluster | None = None  # a LocalCUDACluster is a LocalCluster

    def describe(self) -> dict:
        workers = self.client.scheduler_info()["workers"].values()
        threads = [w["nthreads"] for w in workers]
        return {"dask_cluster": self.kind, "dask_scheduler": self.client.scheduler.address,
                "dask_workers": len(threads), "dask_threads_per_worker": max(threads, default=0),
                "dask_threads": sum(threads)}

    def close(self) -> None:
        """Close the client, then the cluster we started (never an external one)."""
        try:
            self.client.close(timeout=30)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=30)


ETL_GPUS_VARIABLE = "T4REC_BENCH_ETL_GPUS"  # the runner's list of GPUs for a LocalCUDACluster (comma-separated)


def cluster_kind(etl_backend: str) -> str:
    """The local Dask cluster for an ETL backend: LocalCUDACluster for cuDF, the CPU LocalCluster
    for pandas (a GPU run without cuDF included: its ETL runs on the CPU)."""
    return "LocalCUDACluster" if etl_backend == "cudf" else "LocalCluster"


def start_dask(cfg: ScaleConfig, etl_backend: str, workdir: Path, gpus: str | None = None) -> DaskCluster:
    """Connect to ``cfg.scheduler``, or start ``cfg.cluster`` (local:N) on loopback, dashboard off: a
    LocalCUDACluster of N workers on ``gpus`` (comma-separated, one worker per GPU) when the ETL runs
    on cuDF, else a LocalCluster of N processes."""
    from distributed import Client

    if cfg.scheduler:
        return DaskCluster(Client(cfg.scheduler, timeout=60), "external")
    n = cluster_workers(cfg.cluster)
    common = {"n_workers": n, "threads_per_worker": 1, "dashboard_address": None,
              "local_directory": str(workdir / "dask-workers")}
    kind = cluster_kind(etl_backend)
    if kind == "LocalCUDACluster":
        from dask_cuda import LocalCUDACluster

        cluster = LocalCUDACluster(host=LOOPBACK, CUDA_VISIBLE_DEVICES=gpus or None, **common)
    else:
        from distributed import LocalCluster

        cluster = LocalCluster(processes=True, host=LOOPBACK, **common)
    try:
        client = Client(cluster)
        client.wait_for_workers(n, timeout=120)
    except BaseException:
        cluster.close()
        raise
    return DaskCluster(client, kind, cluster)


def in_process_dask() -> dict:
    return {"dask_cluster": "none", "dask_scheduler": "synchronous", "dask_workers": 0,
            "dask_threads_per_worker": 1, "dask_threads": 1}


# ---------------------------------------------------------------- DDP training


@dataclass(frozen=True)
class Shards:
    """Each training day's split cut into one file per rank, all of the same length."""

    paths: dict  # {day: [path of rank 0, path of rank 1, ...]}
    rows_per_rank: dict  # {day: rows in each shard}
    dropped: dict  # {day: rows left out so that the shards are equal}


def shard_train(parts, first_day: int, last_day: int, world_size: int, per_device_batch: int,
                out_dir: Path) -> Shards:
    """Write each day's training split as ``world_size`` files; rank r takes rows r, r+n, r+2n...

    The last ``rows % world_size`` rows are left out: a rank with one step more than the others
    would wait forever in the gradient all-reduce. A shard smaller than one per-device batch
    is refused (the merlin loader hangs on it, stack-facts.md).
    """
    import numpy as np
    import pyarrow.parquet as pq

    paths, rows, dropped = {}, {}, {}
    for day in range(first_day, last_day + 1):
        table = pq.read_table(parts.path(day, "train"))
        per_rank = table.num_rows // world_size
        if per_rank < per_device_batch:
            raise StageFailure("too_small", f"day {day}: {table.num_rows} training sessions give each of "
                               f"{world_size} ranks {per_rank}, fewer than one per-device batch of "
                               f"{per_device_batch}; raise --rows or lower --nproc")
        (out_dir / str(day)).mkdir(parents=True, exist_ok=True)
        paths[day] = [out_dir / str(day) / f"train-rank{r}.parquet" for r in range(world_size)]
        for r, path in enumerate(paths[day]):
            pq.write_table(table.take(np.arange(r, per_rank * world_size, world_size)), path)
        rows[day], dropped[day] = per_rank, table.num_rows - per_rank * world_size
    return Shards(paths, rows, dropped)


@dataclass(frozen=True)
class DdpResult:
    world_size: int
    backend: str
    per_device_batch: int
    days: list  # rank 0's per-day results (see harness.pipeline.ddp_train)
    weights: dict  # {day: folder holding pytorch_model.bin after training that day}
    dropped: dict  # {day: training rows left out to equalise the shards}
    replicas_equal: bool  # every rank ended with the same weights
    startup_s: float  # rank 0: process start to training (imports, model, trainer); inside the train stage


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def torchrun_command(world_size: int, port: int, spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(world_size),
            "--master_addr", LOOPBACK, "--master_port", str(port), "--max_restarts", "0",
            "-m", "harness.pipeline.ddp_train", str(spec_path)]


def train_ddp(config: RunConfig, workflow_path: Path, parts, out_dir: Path) -> DdpResult:
    """Train every day on ``config.scale.nproc`` ranks through torchrun; raise StageFailure if it fails."""
    n = config.scale.nproc
    per_device = config.train.train_batch_size // n
    shards = shard_train(parts, config.train.first_day, config.train.last_day, n, per_device, out_dir / "shards")
    spec = {"config": config.to_dict(), "workflow_path": str(workflow_path), "out_dir": str(out_dir),
            "shards": {str(d): [str(p) for p in ps] for d, ps in shards.paths.items()},
            "rows_per_rank": {str(d): r for d, r in shards.rows_per_rank.items()}}
    spec_path = out_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    code = _launch(torchrun_command(n, free_port(), spec_path), out_dir / "torchrun.log")
    return _read_result(out_dir, code, shards)


def _launch(cmd: list[str], log_path: Path) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR), env.get("PYTHONPATH", "")) if p)
    with open(log_path, "wb") as log:
        return subprocess.run(cmd, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def _read_result(out_dir: Path, code: int, shards: Shards) -> DdpResult:
    results = out_dir / "results.json"
    if code != 0 or not results.exists():
        raise _failure(out_dir, code)
    r = json.loads(results.read_text())
    if not r["replicas_equal"]:
        raise StageFailure("exception", "the DDP ranks ended with different weights (DDP keeps them equal)")
    weights = {int(d): out_dir / "weights" / f"day-{d}" for d in (day["train_day"] for day in r["days"])}
    return DdpResult(r["world_size"], r["backend"], r["per_device_batch"], r["days"], weights,
                     shards.dropped, r["replicas_equal"], r["startup_s"])


def _failure(out_dir: Path, code: int) -> StageFailure:
    """The first rank's error file, or the torchrun log's tail when no rank wrote one."""
    for path in sorted(out_dir.glob("error-rank*.json")):
        err = json.loads(path.read_text())
        return StageFailure(err["kind"], f"{path.stem}: {err['message']}")
    log = out_dir / "torchrun.log"
    tail = log.read_text(errors="replace")[-LOG_TAIL_CHARS:] if log.exists() else ""
    return StageFailure("crash", f"torchrun exited with code {code} and no rank reported an error; "
                        f"log tail: {tail.strip()}")


def describe(dask: dict, etl_partitions: int, ddp: DdpResult | None) -> dict:
    """The record's ``scale`` object: the engines used and their sizes."""
    out = {**dask, "etl_partitions": etl_partitions, "world_size": ddp.world_size if ddp else 1}
    if ddp:
        out.update({"ddp_backend": ddp.backend, "per_device_train_batch_size": ddp.per_device_batch,
                    "ddp_dropped_rows": {str(d): n for d, n in ddp.dropped.items()},
                    "replicas_equal": ddp.replicas_equal, "ddp_startup_s": round(ddp.startup_s, 3)})
    return out
