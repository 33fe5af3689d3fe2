"""One test per stage on tiny data, with the real libraries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from harness.config import DataConfig, EtlConfig, ModelConfig, SplitConfig, TrainConfig
from harness.pipeline.stages import checkpoint, etl, model, schema, splits, synthetic, train

TINY = DataConfig(rows=6000, chunk_rows=2500)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return synthetic.generate(TINY, 1, tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def etl_out(raw, tmp_path_factory):
    return etl.run(EtlConfig(), raw.path, raw.rows, tmp_path_factory.mktemp("etl"))


@pytest.fixture(scope="module")
def parts(etl_out, tmp_path_factory):
    return splits.run(SplitConfig(), etl_out.output_path, tmp_path_factory.mktemp("splits"))


def read_raw(path):
    return pd.concat([pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))], ignore_index=True)


def test_synthetic_distributions_and_chunks(raw):
    df = read_raw(raw.path)
    assert raw.files == 3 and len(df) == TINY.rows
    assert df.item_id.between(1, TINY.item_max).all()
    assert 15 < df.item_id.median() < 25  # lognormal(3, 1): median e^3 ~ 20
    assert df.category.between(1, TINY.category_bins).all()
    assert df["timestamp/age_days"].between(0, 1).all()
    assert df.session_id.nunique() <= TINY.sessions == 600
    assert df.groupby("session_id").day.nunique().max() == 1  # one day per session
    assert set(df.day.unique()) <= set(range(1, 10))


def test_synthetic_category_bins_match_pandas_cut(raw):
    df = read_raw(raw.path)
    expected = pd.cut(df.item_id, bins=TINY.category_bins, labels=np.arange(1, TINY.category_bins + 1)).astype(int)
    assert (df.category.values == expected.values).all()


def test_synthetic_is_seeded(tmp_path, raw):
    again = synthetic.generate(TINY, 1, tmp_path / "a")
    other = synthetic.generate(TINY, 2, tmp_path / "b")
    assert read_raw(again.path).equals(read_raw(raw.path))
    assert not read_raw(other.path).equals(read_raw(raw.path))


def test_etl_groups_slices_and_filters(raw, etl_out):
    out = pd.concat([pd.read_parquet(p) for p in etl_out.output_path.glob("*.parquet")])
    assert len(out) == etl_out.output_rows > 0
    assert out["item_id-list_trim"].map(len).max() <= 20
    assert (out["item_id-count"] >= 2).all()
    assert out.session_id.is_unique
    assert min(min(x) for x in out["item_id-list_trim"]) >= 3  # 0 pad, 1 null, 2 OOV
    assert (etl_out.workflow_path / "workflow.pkl").exists()


def test_etl_shuffles_partitions_so_sessions_stay_whole(raw, etl_out):
    # TINY spans 3 input files; each session must still appear once with all its rows
    df = read_raw(raw.path)
    out = pd.concat([pd.read_parquet(p) for p in etl_out.output_path.glob("*.parquet")])
    counts = df.groupby("session_id").size()
    assert sorted(out["item_id-count"]) == sorted(counts[counts >= 2])


def test_splits_semantics(etl_out, parts):
    out = pd.concat([pd.read_parquet(p) for p in etl_out.output_path.glob("*.parquet")])
    for day, c in parts.counts.items():
        assert sum(c.values()) == (out["day-first"] == day).sum()
        train_df = pd.read_parquet(parts.path(day, "train"))
        assert train_df.session_id.is_monotonic_increasing
    assignment = splits.assign(10_000, SplitConfig())
    shares = np.bincount(assignment) / 10_000
    assert np.allclose(shares, [0.8, 0.1, 0.1], atol=0.02)
    assert (splits.assign(100, SplitConfig()) == splits.assign(100, SplitConfig())).all()


def test_schema_tags(etl_out):
    s = schema.run(etl_out.workflow_path)
    assert sorted(s.column_names) == sorted(schema.FEATURES)
    assert s.item_id_column_name == schema.ITEM_ID
    assert sorted(s.select_by_tag("continuous").column_names) == sorted(schema.CONTINUOUS)


def test_model_and_daily_training_and_checkpoint(etl_out, parts, tmp_path):
    import torch

    torch.manual_seed(0)
    cfg = TrainConfig(train_batch_size=16, eval_batch_size=8, epochs=1)
    s = schema.run(etl_out.workflow_path)
    net = model.build(ModelConfig(), s, 20)
    trainer = train.make_trainer(cfg, net, s, tmp_path / "t", seed=0, device="cpu")
    n = parts.counts[1]["train"]
    tr = train.train_day(trainer, cfg, 1, parts.path(1, "train"), n)
    assert tr.steps == n // 16 and np.isfinite(tr.loss)
    nv = parts.counts[2]["valid"]
    ev = train.evaluate_day(trainer, cfg, 2, parts.path(2, "valid"), nv)
    assert ev.sessions == nv  # every session scored, partial batch included
    assert set(ev.metrics) == {"ndcg_at_20", "ndcg_at_40", "recall_at_20", "recall_at_40"}
    assert 0 <= ev.metrics["ndcg_at_20"] <= ev.metrics["recall_at_20"] <= ev.metrics["recall_at_40"] <= 1
    dropped = train.evaluate_day(trainer, dataclasses.replace(cfg, eval_drop_last=True), 2,
                                 parts.path(2, "valid"), nv)
    assert dropped.sessions == (nv // 8) * 8
    path = checkpoint.save(trainer)
    fresh = checkpoint.load_weights(model.build(ModelConfig(), s, 20), path)
    assert checkpoint.weights_hash(fresh) == checkpoint.weights_hash(trainer.model)
    again = train.evaluate_day(train.make_trainer(cfg, fresh, s, tmp_path / "r", 0, "cpu"), cfg, 2,
                               parts.path(2, "valid"), nv)
    assert again.metrics == ev.metrics


def test_split_size_check_names_the_fix():
    from harness.errors import StageFailure

    with pytest.raises(StageFailure, match="day 2 has 100 training sessions.*raise --rows") as exc:
        train.check_split_sizes(TrainConfig(last_day=2), {1: {"train": 300, "valid": 5},
                                                          2: {"train": 100, "valid": 5}, 3: {"valid": 5}})
    assert exc.value.kind == "too_small"


def test_nan_loss_fails_the_stage():
    from types import SimpleNamespace

    from harness.errors import StageFailure

    class NanTrainer:  # stands in for the HF Trainer's train() result only
        args = SimpleNamespace(dataloader_drop_last=True)
        state = SimpleNamespace(global_step=0)

        def reset_lr_scheduler(self):
            pass

        def train(self):
            return SimpleNamespace(training_loss=float("nan"))

    with pytest.raises(StageFailure, match="training loss is nan") as exc:
        train.train_day(NanTrainer(), TrainConfig(), 1, "x", 1000)
    assert exc.value.kind == "nan_loss"
