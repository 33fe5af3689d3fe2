"""One DDP rank: ``python -m torch.distributed.run ... -m harness.pipeline.ddp_train SPEC.json``.

Launched by ``harness.pipeline.scale.train_ddp``. Every rank builds the same model and trains it day by
day on its own shard of the day's training split (one file per rank, all of one length);
DDP averages the gradients, so the replicas stay equal. The global batch is the config's
``train_batch_size``, split evenly over the ranks.

Rank 0 saves the weights after each day (``weights/day-D/pytorch_model.bin``) and writes
``results.json``; a rank that fails writes ``error-rankR.json`` ({kind, message}). Evaluation
is not done here: the pipeline worker scores each day's weights in one process, with the same
code as a single-process run, so the metrics need no cross-rank reduction.

results.json: {world_size, backend, per_device_batch, replicas_equal,
               startup_s (rank 0: process start to its first training step: imports, model, trainer),
               days: [{train_day, loss (mean over ranks), steps (per rank), samples (all ranks),
                       wall_s (rank 0), warmup_steps, timed_steps, timed_samples, timed_s, step_clock}]}
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    out, rank = Path(spec["out_dir"]), int(os.environ["RANK"])
    from harness.documents import atomic
    from harness.errors import StageFailure

    try:
        result = _run(spec, out, rank)
    except StageFailure as exc:
        atomic.write_json(out / f"error-rank{rank}.json", {"kind": exc.kind, "message": str(exc)})
        return 1
    except BaseException as exc:  # reported to the pipeline worker, then exit 1
        kind = "oom" if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() else "exception"
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        atomic.write_json(out / f"error-rank{rank}.json", {"kind": kind, "message": f"{type(exc).__name__}: {exc}{at}"})
        return 1
    if rank == 0:
        atomic.write_json(out / "results.json", result)
    return 0


def _run(spec: dict, out: Path, rank: int) -> dict:
    import torch.distributed as dist

    from harness.config import config_from_dict

    config = config_from_dict(spec["config"])
    backend = _init_process_group(config)
    try:
        trainer, cfg = _make_trainer(config, spec, out, rank, dist.get_world_size())
        startup_s = time.time() - _process_start()
        days = [_train_day(trainer, cfg, config, spec, out, rank, day)
                for day in range(config.train.first_day, config.train.last_day + 1)]
        equal = _replicas_equal(trainer.model)
    finally:
        dist.destroy_process_group()
    return {"world_size": spec_world(spec), "backend": backend, "per_device_batch": cfg.train_batch_size,
            "replicas_equal": equal, "startup_s": startup_s, "days": days}


def _process_start() -> float:
    import psutil

    return psutil.Process().create_time()


def spec_world(spec: dict) -> int:
    return len(next(iter(spec["shards"].values())))


def _init_process_group(config) -> str:
    """gloo on CPU, nccl on CUDA; the timeout is the stage's, so a stuck collective fails the stage."""
    import torch
    import torch.distributed as dist

    backend = "nccl" if config.device == "cuda" else "gloo"
    if backend == "nccl":
        local_rank, count = int(os.environ["LOCAL_RANK"]), torch.cuda.device_count()
        if local_rank >= count:  # the runner refuses this before the run; said plainly if it happens anyway
            from harness.errors import StageFailure

            raise StageFailure("exception", f"rank {local_rank} has no GPU of its own: {count} visible "
                               f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, timeout=timedelta(seconds=config.stage_timeout_s))
    return backend


def _make_trainer(config, spec: dict, out: Path, rank: int, world: int):
    from harness.pipeline.determinism import seed_everything
    from harness.pipeline.stages import model, schema, train

    if world != spec_world(spec):
        raise ValueError(f"torchrun started {world} ranks but the data is sharded for {spec_world(spec)}")
    seed_everything(config.seed, config.device)
    t4r_schema = schema.run(Path(spec["workflow_path"]))
    net = model.build(config.model, t4r_schema, config.etl.max_sequence_length, config.faults.d_model or None)
    cfg = dataclasses.replace(config.train, train_batch_size=config.train.train_batch_size // world)
    trainer = train.make_trainer(cfg, net, t4r_schema, out / f"rank{rank}", config.seed, config.device,
                                 config.faults.lr_scale)
    # Each rank is handed its own shard file, so the loader must not split the data by rank again
    # (its split depends on every rank drawing the same partition shuffle from numpy's global state).
    trainer.local_rank, trainer.global_size = None, None
    trainer.device = int(os.environ["LOCAL_RANK"]) if config.device == "cuda" else None
    return trainer, cfg


def _train_day(trainer, cfg, config, spec: dict, out: Path, rank: int, day: int) -> dict:
    import torch

    from harness.measure import gpu
    from harness.pipeline.stages import train

    timer = gpu.attach_step_timer(trainer, config.device)
    t0 = time.perf_counter()
    tr = train.train_day(trainer, cfg, day, Path(spec["shards"][str(day)][rank]), spec["rows_per_rank"][str(day)])
    wall_s = time.perf_counter() - t0
    steps = gpu.detach_step_timer(trainer, timer)
    loss, samples = _sum_over_ranks([tr.loss, tr.samples])
    world = spec_world(spec)
    if rank == 0:
        folder = out / "weights" / f"day-{day}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(trainer.model.state_dict(), folder / "pytorch_model.bin")
    return {"train_day": day, "loss": loss / world, "steps": tr.steps, "samples": int(samples),
            "wall_s": wall_s, **steps}


def _sum_over_ranks(values: list[float]) -> list[float]:
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t)
    return t.cpu().tolist()


def _collective_device():
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def _replicas_equal(model) -> bool:
    """DDP's invariant: every rank holds the same weights. Compare a checksum across ranks."""
    import torch
    import torch.distributed as dist

    total = sum(p.detach().double().sum() for p in model.parameters()).reshape(1).to(_collective_device())
    gathered = [torch.zeros_like(total) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, total)
    return all(bool(torch.equal(g, gathered[0])) for g in gathered)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
