"""Daily incremental training and evaluation: train on day d, evaluate on day d+1.

The pipeline calls ``train_day`` and ``evaluate_day`` once per day and measures each call
from outside. ``make_trainer`` holds the tutorial's arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness.config import TrainConfig
from harness.errors import StageFailure

METRIC_PREFIX = "eval_/next-item/"


@dataclass(frozen=True)
class TrainDayResult:
    day: int
    loss: float  # mean training loss over the day's steps
    steps: int
    samples: int  # sessions seen, over all epochs


@dataclass(frozen=True)
class EvalDayResult:
    day: int
    sessions: int  # validation sessions scored
    loss: float
    metrics: dict  # {"ndcg_at_20": ..., "recall_at_40": ...}


def make_trainer(cfg: TrainConfig, model, schema, output_dir: Path, seed: int, device: str,
                 lr_scale: float = 1.0, callbacks=()):
    from transformers4rec.config.trainer import T4RecTrainingArguments
    from transformers4rec.torch import Trainer

    args = T4RecTrainingArguments(
        output_dir=str(output_dir),
        data_loader_engine="merlin",  # 'nvtabular' in the tutorial is an alias of it
        dataloader_drop_last=True,
        report_to=[],
        gradient_accumulation_steps=1,
        per_device_train_batch_size=cfg.train_batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        learning_rate=cfg.learning_rate * lr_scale,
        lr_scheduler_type="cosine",
        learning_rate_num_cosine_cycles_by_epoch=cfg.cosine_cycles_per_epoch,
        num_train_epochs=cfg.epochs,
        max_sequence_length=model_max_len(schema),
        no_cuda=device != "cuda",
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        save_strategy="no",
        logging_strategy="no",
    )
    from transformers.trainer_callback import PrinterCallback

    trainer = Trainer(model=model, args=args, schema=schema, compute_metrics=True, callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # the harness reports progress itself
    if device == "cuda":
        one_gpu(trainer.args)
    return trainer


def one_gpu(args) -> None:
    """Train and evaluate on one GPU. transformers 4.30 sets ``n_gpu = torch.cuda.device_count()`` and
    wraps the model in DataParallel when it is above 1; the runner shows a single-process worker one
    GPU, but a DDP run's worker sees every rank's GPU and evaluates in one process. Call it after the
    Trainer is built (which sets n_gpu); transformers itself sets ``_n_gpu = 1`` this way for model
    parallelism."""
    if args.n_gpu > 1:
        args._n_gpu = 1


def model_max_len(schema) -> int:
    return 20 if schema is None else max(
        (c.value_count.max for c in schema if c.value_count and c.value_count.max), default=20)


def batches_of(n: int, batch: int, drop_last: bool) -> int:
    return n // batch if drop_last else math.ceil(n / batch)


def train_day(trainer, cfg: TrainConfig, day: int, path: Path, rows: int) -> TrainDayResult:
    trainer.args.dataloader_drop_last = True  # as the tutorial trains
    trainer.train_dataset_or_path = [str(path)]
    trainer.reset_lr_scheduler()
    out = trainer.train()
    trainer.state.global_step += 1  # as the tutorial does between days
    if not math.isfinite(out.training_loss):
        raise StageFailure("nan_loss", f"training loss is {out.training_loss} on day {day}")
    steps = batches_of(rows, cfg.train_batch_size, True) * cfg.epochs
    return TrainDayResult(day, float(out.training_loss), steps, steps * cfg.train_batch_size)


def evaluate_day(trainer, cfg: TrainConfig, day: int, path: Path, rows: int) -> EvalDayResult:
    """Score the day's validation sessions; every session unless ``cfg.eval_drop_last``."""
    # evaluate(eval_dataset=...) is ignored upstream: the loader reads eval_dataset_or_path.
    trainer.eval_dataset_or_path = [str(path)]
    trainer.args.dataloader_drop_last = cfg.eval_drop_last
    try:
        raw = trainer.evaluate(metric_key_prefix="eval")
    finally:
        trainer.args.dataloader_drop_last = True
    scored = batches_of(rows, cfg.eval_batch_size, cfg.eval_drop_last) * cfg.eval_batch_size
    metrics = {k[len(METRIC_PREFIX):]: float(v) for k, v in raw.items() if k.startswith(METRIC_PREFIX)}
    return EvalDayResult(day, min(scored, rows), float(raw.get("eval_/loss", float("nan"))), metrics)


def check_split_sizes(cfg: TrainConfig, counts: dict) -> None:
    """The merlin loader hangs when a training split is smaller than one batch (stack-facts.md)."""
    for day in range(cfg.first_day, cfg.last_day + 1):
        n = counts.get(day, {}).get("train", 0)
        if n < cfg.train_batch_size:
            raise StageFailure(
                "too_small",
                f"day {day} has {n} training sessions, fewer than one batch of {cfg.train_batch_size}; "
                f"raise --rows or lower train.train_batch_size")
        if counts.get(day + 1, {}).get("valid", 0) == 0:
            raise StageFailure("too_small", f"day {day + 1} has no validation sessions; raise --rows")
