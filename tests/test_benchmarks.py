"""pytest-benchmark benchmarks: the ETL transform and one training epoch, on small data.

Slow code, so ``benchmark.pedantic`` with few rounds, one iteration each and a warm-up round
(imports, first-call allocations). Each round gets fresh inputs from its setup (an empty
output folder, a freshly built model) so rounds measure the same work. Use as:

    .venv/bin/pytest tests/test_benchmarks.py --benchmark-autosave
    .venv/bin/pytest tests/test_benchmarks.py --benchmark-compare --benchmark-compare-fail=median:15%
"""

from __future__ import annotations

import itertools

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("pytest_benchmark")
pytest.importorskip("nvtabular")
pytest.importorskip("transformers4rec")

ROUNDS, WARMUP = 3, 1
SMALL = {"data.rows": 20_000, "train.train_batch_size": 64, "train.epochs": 1, "train.first_day": 1,
         "train.last_day": 1}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Synthetic data, ETL output, day-1 splits and schema of a small workload, built once."""
    from harness.config import build_config
    from harness.pipeline.stages import etl, schema, splits, synthetic

    config = build_config("smoke", SMALL)
    root = tmp_path_factory.mktemp("bench")
    raw = synthetic.generate(config.data, config.seed, root / "raw")
    out = etl.run(config.etl, raw.path, raw.rows, root / "etl")
    parts = splits.run(config.split, out.output_path, root / "splits")
    return {"config": config, "root": root, "raw": raw, "parts": parts, "schema": schema.run(out.workflow_path)}


def test_etl_transform(benchmark, small):
    from harness.pipeline.stages import etl

    config, raw, counter = small["config"], small["raw"], itertools.count()

    def setup():
        return (config.etl, raw.path, raw.rows, small["root"] / f"etl-{next(counter)}"), {}

    result = benchmark.pedantic(etl.run, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)
    assert 0 < result.output_rows <= raw.sessions


def test_train_one_epoch(benchmark, small):
    from harness.pipeline.stages import model, train

    config, parts, counter = small["config"], small["parts"], itertools.count()
    day, rows = 1, small["parts"].counts[1]["train"]
    assert rows >= config.train.train_batch_size, "the loader hangs on a split smaller than one batch"

    def setup():
        net = model.build(config.model, small["schema"], config.etl.max_sequence_length)
        trainer = train.make_trainer(config.train, net, small["schema"], small["root"] / f"trainer-{next(counter)}",
                                     config.seed, "cpu")
        return (trainer, config.train, day, parts.path(day, "train"), rows), {}

    result = benchmark.pedantic(train.train_day, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)
    assert result.steps >= 1 and result.loss > 0
