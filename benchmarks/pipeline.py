"""track_ benchmarks: every number comes from the harness run record of ONE pipeline run per
profile and commit (``_Record.setup_cache``); nothing here re-measures.

Direction: asv treats every number as lower-is-better (its regressions page and step detection
flag upward steps). Higher-is-better measurements are therefore tracked as their reciprocal:
throughput as seconds per row/sample, ranking metrics as 1/metric. A reciprocal stays positive
(asv's relative thresholds and percentages break on negative numbers) and keeps the relative size
of a change (a 10% drop reads as an 11% rise), where 1 - metric would shrink a 10% drop of
NDCG@20 = 0.17 to a 2% rise.
"""

from __future__ import annotations

from . import _shared


def _stage_order() -> tuple[str, ...]:
    """The benchmarked commit's one list of stages, in pipeline order: harness.config.STAGE_ORDER, or
    where it lived before, harness.output.summary (older layouts: ``_shared.harness_module``)."""
    order = getattr(_shared.harness_module("config"), "STAGE_ORDER", None)
    return order or _shared.harness_module("output.summary").STAGE_ORDER


# asv runs the parameter list it discovered against every commit (a parameter is an index into it): the
# list has been the same in every commit so far; "cluster" (only with --cluster) is left out, and
# "total" is a parameter of its own.
STAGE_ORDER = _stage_order()
STAGES = tuple(s for s in STAGE_ORDER if s not in ("cluster", "total"))
RATES = ("synthetic.rows_per_s", "etl.rows_per_s", "train.samples_per_s", "evaluate.samples_per_s")
GPU_COUNTERS = ("torch_peak_allocated_bytes", "torch_peak_reserved_bytes", "nvml_peak_used_bytes")
METRICS = ("ndcg_at_20", "ndcg_at_40", "recall_at_20", "recall_at_40")


class _Record:
    """Base of every track_ suite: the subclasses inherit one setup_cache, so asv runs the
    pipeline once per profile and commit and hands the same records to all of them. Each suite
    tracks one measurement per parameter combination, named by ``measurement(*params)``."""

    timeout = 600.0  # reading a record takes milliseconds; the pipeline's time is setup_cache's

    def setup_cache(self):
        return {p: _shared.run_pipeline(p) for p in _shared.SELECTED}

    setup_cache.timeout = _shared.budget_s()

    def setup(self, records, profile, *params):
        """Skip (asv: n/a) unselected profiles and measurements the run lacks; fail on a failed run."""
        _shared.skip_unselected(profile)
        _shared.check_ok(records[profile])
        _shared.measurement(records[profile], self.measurement(*params))

    def value(self, records, profile, *params) -> float:
        return _shared.measurement(records[profile], self.measurement(*params))


class _PerStage(_Record):
    """One measurement per stage and for the whole run ("total"): ``<stage>.<suffix>``."""

    params = (_shared.PROFILES, STAGES + ("total",))
    param_names = ("profile", "stage")
    suffix = ""

    def measurement(self, stage):
        return f"{stage}.{self.suffix}"


class StageWallTime(_PerStage):
    """Wall seconds per stage, and of the whole pipeline ("total")."""

    unit, suffix = "seconds", "wall_s"

    def track_wall_s(self, records, profile, stage):
        return self.value(records, profile, stage)


class StageCpuTime(_PerStage):
    """CPU seconds (user + system) per stage, and of the whole pipeline ("total")."""

    unit, suffix = "seconds", "cpu_s"

    def track_cpu_s(self, records, profile, stage):
        return self.value(records, profile, stage)


class Throughput(_Record):
    """Seconds per row (synthetic, etl) or per sample (train, evaluate): 1 / the record's rate."""

    params = (_shared.PROFILES, RATES)
    param_names = ("profile", "rate")
    unit = "seconds"

    def measurement(self, rate):
        return rate

    def track_seconds_per_item(self, records, profile, rate):
        return _shared.reciprocal(self.value(records, profile, rate))


class HostMemory(_PerStage):
    """Peak resident memory of the worker per stage, and over the whole run ("total")."""

    unit, suffix = "bytes", "peak_rss_bytes"

    def track_peak_rss_bytes(self, records, profile, stage):
        return self.value(records, profile, stage)


class HostAnonMemory(_PerStage):
    """Peak anonymous resident memory (RSS minus file-backed pages) per stage: what the code
    allocates, the figure the gate judges (peak RSS also counts mapped library pages, which
    depend on the checkout)."""

    unit, suffix = "bytes", "peak_anon_bytes"

    def track_peak_anon_bytes(self, records, profile, stage):
        return self.value(records, profile, stage)


class GpuMemory(_Record):
    """Peak GPU memory per stage (torch allocator and NVML); skipped on runs without CUDA."""

    params = (_shared.PROFILES, STAGES, GPU_COUNTERS)
    param_names = ("profile", "stage", "counter")
    unit = "bytes"

    def measurement(self, stage, counter):
        return f"{stage}.{counter}"

    def track_peak_bytes(self, records, profile, stage, counter):
        return self.value(records, profile, stage, counter)


class Quality(_Record):
    """1 / metric for NDCG and Recall at 20 and 40 on the last evaluated day (lower is better)."""

    params = (_shared.PROFILES, METRICS)
    param_names = ("profile", "metric")
    unit = "1/metric"

    def measurement(self, metric):
        return f"quality.{metric}"

    def track_inverse_metric(self, records, profile, metric):
        return _shared.reciprocal(self.value(records, profile, metric))


class Loss(_Record):
    """Mean training loss of the last training day."""

    params = (_shared.PROFILES,)
    param_names = ("profile",)
    unit = "loss"

    def measurement(self):
        return "quality.final_train_loss"

    def track_final_train_loss(self, records, profile):
        return self.value(records, profile)
