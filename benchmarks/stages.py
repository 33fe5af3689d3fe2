"""time_ and peakmem_ benchmarks of the two stages that dominate a run: the ETL (fit and
transform) and one training epoch, each timed by asv itself on data prepared once per profile and
commit (``_Prepared.setup_cache``).

These are slow (seconds to tens of seconds per call), so asv's calibration is switched off: one
call per sample (``number = 1``), between 2 and 5 samples within two minutes (``repeat``), one
process (``rounds = 1``), and no warm-up loop (``warmup_time = 0``): a warm-up call would cost as
much as a sample, and ``setup`` already pays the one-off costs (importing the stack; for training,
building the model and trainer). The first sample therefore carries first-call effects; asv
reports the median. peakmem_ reports the process's peak RSS, which includes setup.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import _shared


class _Prepared:
    """Shared preparation: synthetic data, ETL output and per-day splits for each selected profile,
    written into asv's setup_cache folder (the benchmarks' working directory)."""

    params = (_shared.PROFILES,)
    param_names = ("profile",)
    number = 1
    repeat = (2, 5, 120.0)  # (min samples, max samples, seconds after which no new sample starts)
    rounds = 1
    warmup_time = 0.0
    timeout = _shared.budget_s()

    def setup_cache(self):
        return {p: _prepare(p, Path.cwd() / f"prepared-{p}") for p in _shared.SELECTED}

    setup_cache.timeout = _shared.budget_s()


def _prepare(profile: str, root: Path) -> dict:
    etl, splits, synthetic = (_shared.harness_module(f"pipeline.stages.{m}") for m in ("etl", "splits", "synthetic"))
    cfg = _shared.build_config(profile)
    raw = synthetic.generate(cfg.data, cfg.seed, root / "raw")
    out = etl.run(cfg.etl, raw.path, raw.rows, root, cfg.device != "cuda")
    parts = splits.run(cfg.split, out.output_path, root / "splits")
    day = cfg.train.first_day
    return {"raw": str(raw.path), "rows": raw.rows, "workflow": str(out.workflow_path), "day": day,
            "train": str(parts.path(day, "train")), "train_rows": parts.counts[day]["train"]}


class EtlTransform(_Prepared):
    """The ETL stage as the pipeline runs it (harness.pipeline.stages.etl.run: fit the NVTabular workflow,
    transform the profile's raw data, write sessions to parquet), into a fresh folder per call.
    It calls the stage's public function, not its internals, so the benchmark follows the stage."""

    def setup(self, prepared, profile):
        _shared.skip_unselected(profile)
        import nvtabular  # noqa: F401 - the import (seconds) is not part of the ETL's time

        self.cfg = _shared.build_config(profile)
        self.raw = prepared[profile]
        self.out = Path(tempfile.mkdtemp(prefix="etl-transform-", dir=Path.cwd()))
        self.calls = 0

    def teardown(self, prepared, profile):
        shutil.rmtree(getattr(self, "out", ""), ignore_errors=True)

    def _transform(self):
        etl = _shared.harness_module("pipeline.stages.etl")
        self.calls += 1
        etl.run(self.cfg.etl, Path(self.raw["raw"]), self.raw["rows"], self.out / f"call-{self.calls}",
                self.cfg.device != "cuda")

    def time_etl_transform(self, prepared, profile):
        self._transform()

    def peakmem_etl_transform(self, prepared, profile):
        self._transform()


class TrainEpoch(_Prepared):
    """One epoch of the tutorial's XLNet model on the first training day's split."""

    def setup(self, prepared, profile):
        _shared.skip_unselected(profile)
        import dataclasses

        seed_everything = _shared.harness_module("pipeline.determinism").seed_everything
        model, schema, train = (_shared.harness_module(f"pipeline.stages.{m}") for m in ("model", "schema", "train"))
        cfg = _shared.build_config(profile)
        self.cfg = dataclasses.replace(cfg.train, epochs=1)
        self.prepared = prepared[profile]
        seed_everything(cfg.seed, cfg.device)
        t4r_schema = schema.run(Path(self.prepared["workflow"]))
        net = model.build(cfg.model, t4r_schema, cfg.etl.max_sequence_length)
        self.out = Path(tempfile.mkdtemp(prefix="train-epoch-", dir=Path.cwd()))
        self.trainer = train.make_trainer(self.cfg, net, t4r_schema, self.out, cfg.seed, cfg.device)

    def teardown(self, prepared, profile):
        shutil.rmtree(getattr(self, "out", ""), ignore_errors=True)

    def _epoch(self):
        train = _shared.harness_module("pipeline.stages.train")
        p = self.prepared
        train.train_day(self.trainer, self.cfg, p["day"], Path(p["train"]), p["train_rows"])

    def time_train_epoch(self, prepared, profile):
        self._epoch()

    def peakmem_train_epoch(self, prepared, profile):
        self._epoch()
