"""Run configuration: one frozen dataclass per stage, combined into RunConfig.

Precedence: dataclass defaults (the tutorial's values), then the profile
(``profiles.toml``), then command-line overrides. ``validate`` is the one place
that checks values; its messages name the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import sys
from dataclasses import dataclass, field
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib  # novermin (guarded: Python 3.10 takes tomli)
else:  # Python 3.10 (the Merlin containers): the same parser, as a package
    import tomli as tomllib

from harness.dotted import flatten
from harness.errors import HarnessError

# Every timed section of a run, in pipeline order: the one list of stages, in the order every table
# shows them; the other stage lists are named selections of it. "imports": loading the stack;
# "cluster": the dask cluster's start-up (only with --cluster); "total": the whole run.
STAGE_ORDER = ("imports", "synthetic", "cluster", "etl", "splits", "schema", "model", "train", "evaluate",
               "checkpoint", "total")
NOT_THE_TUTORIAL = frozenset({"imports", "cluster", "total"})  # sections that are not a step of the tutorial
OPTIONAL_STAGES = frozenset({"cluster"})  # timed only in runs that ask for them
FIXED_COST_STAGES = frozenset({"imports", "cluster", "schema", "model", "checkpoint"})  # work not growing with rows


def tutorial_stages() -> tuple[str, ...]:
    """The tutorial's own steps (the stages a fault can be planted in: ``faults.slowdown_stage``,
    ``faults.hang_stage``), in pipeline order."""
    return tuple(s for s in STAGE_ORDER if s not in NOT_THE_TUTORIAL)


def growing_stages() -> tuple[str, ...]:
    """The stages whose work grows with the rows, and "total", in pipeline order (a sweep's columns)."""
    return tuple(s for s in STAGE_ORDER if s not in FIXED_COST_STAGES)


@dataclass(frozen=True)
class DataConfig:
    rows: int = 100_000  # interactions to generate
    rows_per_session: float = 10.0  # the tutorial: 10,000 sessions for 100,000 rows
    item_lognormal_mean: float = 3.0
    item_lognormal_sigma: float = 1.0
    item_max: int = 50_000  # item ids are clipped to [1, item_max]
    category_bins: int = 334
    num_days: int = 9  # each session gets a day in 1..num_days
    chunk_rows: int = 1_000_000  # generate in chunks of this many rows

    @property
    def sessions(self) -> int:
        return max(1, round(self.rows / self.rows_per_session))


@dataclass(frozen=True)
class EtlConfig:
    max_sequence_length: int = 20  # ListSlice(0, 20)
    min_session_length: int = 2  # Filter: item_id-count >= this


@dataclass(frozen=True)
class SplitConfig:
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 1  # upstream seeds each day's split generator with 1


@dataclass(frozen=True)
class ModelConfig:
    d_model: int = 64
    n_head: int = 4
    n_layer: int = 2
    continuous_projection: int = 64
    d_output: int = 100
    mlp_layers: tuple[int, ...] = (64,)
    top_ks: tuple[int, ...] = (20, 40)


@dataclass(frozen=True)
class TrainConfig:
    train_batch_size: int = 256
    eval_batch_size: int = 32
    learning_rate: float = 5e-4
    cosine_cycles_per_epoch: float = 1.5
    epochs: int = 5
    first_day: int = 1  # train on day d, evaluate on d+1, for d in first_day..last_day
    last_day: int = 6
    eval_drop_last: bool = False  # True reproduces the tutorial: partial eval batches are not scored
    check_split_sizes: bool = True  # reject a training split smaller than one batch (the loader hangs)


SLOWDOWN_KINDS = ("spin", "sleep")  # FaultConfig.slowdown_kind


@dataclass(frozen=True)
class FaultConfig:
    """Injected faults for proving the gate. Off by default; a run with any set is never a baseline."""

    slowdown_stage: str = ""  # stage to slow down
    slowdown_fraction: float = 0.0  # slow it by this fraction of the stage's own wall time, after it
    slowdown_kind: str = "spin"  # "spin": burn CPU (more work, as slower code does); "sleep": wait (I/O, a lock)
    lr_scale: float = 1.0  # multiply the learning rate
    ballast_mb: int = 0  # hold this much touched memory during the train stage
    d_model: int = 0  # if set, replaces model.d_model
    hang_stage: str = ""  # stage that blocks forever (tests the watchdog)

    def active(self) -> dict:
        default = FaultConfig()
        return {k: v for k, v in dataclasses.asdict(self).items() if getattr(default, k) != v}


@dataclass(frozen=True)
class ScaleConfig:
    """Where the pipeline runs. The ETL output does not depend on the dask cluster, so only
    ``nproc`` (the DDP world size, which changes the training computation) is workload."""

    cluster: str = ""  # "" ETL in this process; "local:N" a LocalCluster of N workers (LocalCUDACluster: cuDF ETL)
    scheduler: str = ""  # address of an existing dask scheduler (tcp://host:8786); exclusive with cluster
    nproc: int = 1  # DDP world size: >1 trains through torchrun; train_batch_size stays the global batch


@dataclass(frozen=True)
class RunConfig:
    profile: str = "seed"
    seed: int = 42
    device: str = "cpu"  # cpu | cuda
    instrument: bool = True  # False: no samplers, no per-stage memory counters
    # CPU threads of torch and the OpenMP/BLAS libraries in the worker; 0: their default (every core)
    threads: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    etl: EtlConfig = field(default_factory=EtlConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    stage_timeout_s: float = 900.0  # watchdog: a stage running longer than this fails the run

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def workload_dict(self) -> dict:
        """The part of the config that defines what is computed (not how it is observed)."""
        d = self.to_dict()
        for key in ("profile", "instrument", "stage_timeout_s", "faults"):
            d.pop(key)
        scale = d.pop("scale")
        if scale["nproc"] != 1:  # only then, so single-process workload hashes stay as they were
            d["scale"] = {"nproc": scale["nproc"]}
        return d

    def hash(self) -> str:
        return _hash(self.to_dict())

    def workload_hash(self) -> str:
        return _hash(self.workload_dict())


def _hash(obj) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_SECTIONS = {"data": DataConfig, "etl": EtlConfig, "split": SplitConfig, "model": ModelConfig,
             "train": TrainConfig, "faults": FaultConfig, "scale": ScaleConfig}


def load_profiles() -> dict[str, dict]:
    text = resources.files("harness").joinpath("profiles.toml").read_text()
    return tomllib.loads(text)


def profile_names() -> list[str]:
    return list(load_profiles())


def build_config(profile: str, overrides: dict | None = None) -> RunConfig:
    """Defaults, then the named profile, then ``overrides`` ({"train.epochs": 2, "seed": 3})."""
    profiles = load_profiles()
    if profile not in profiles:
        raise HarnessError(f"unknown profile {profile!r}{_did_you_mean(profile, profiles)}; "
                           f"choose one of: {', '.join(profiles)}")
    flat = flatten(profiles[profile])
    flat.pop("description", None)
    flat.update(overrides or {})
    flat["profile"] = profile
    config = _from_flat(flat)
    validate(config)
    return config


def config_from_dict(d: dict) -> RunConfig:
    """Rebuild a RunConfig from ``RunConfig.to_dict()`` output (as stored in a run record)."""
    return _from_flat(flatten(d))


def _from_flat(flat: dict) -> RunConfig:
    sections: dict[str, dict] = {name: {} for name in _SECTIONS}
    top: dict = {}
    for key, value in flat.items():
        section, _, name = key.rpartition(".")
        target_cls = _SECTIONS.get(section, RunConfig if not section else None)
        if target_cls is None:
            raise HarnessError(f"unknown config section {section!r} in {key!r}")
        fields = {f.name: f for f in dataclasses.fields(target_cls)}
        if name not in fields:
            raise HarnessError(f"unknown config field {key!r}{_did_you_mean(name, fields)}")
        (sections[section] if section else top)[name] = _coerce(key, value, fields[name])
    return RunConfig(**top, **{k: _SECTIONS[k](**v) for k, v in sections.items()})


def _coerce(key: str, value, f: dataclasses.Field):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind.startswith("tuple"):
            return tuple(int(v) for v in (value.split(",") if isinstance(value, str) else value))
        if kind == "bool" and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        return {"int": int, "float": float, "str": str, "bool": bool}[kind](value)
    except (TypeError, ValueError):
        raise HarnessError(f"config field {key!r}: {value!r} is not a valid {kind}") from None


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate(c: RunConfig) -> None:
    """Reject impossible configurations with one message naming the field and value."""
    checks = [
        (c.device in ("cpu", "cuda"), "device", c.device, "must be 'cpu' or 'cuda'"),
        (c.threads >= 0, "threads", c.threads, "must be >= 0 (0: the libraries' default)"),
        (c.data.rows >= 100, "data.rows", c.data.rows, "must be at least 100"),
        (c.data.rows_per_session >= 1, "data.rows_per_session", c.data.rows_per_session, "must be >= 1"),
        (c.data.chunk_rows >= 1000, "data.chunk_rows", c.data.chunk_rows, "must be at least 1000"),
        (c.data.num_days >= 2, "data.num_days", c.data.num_days, "must be at least 2"),
        (1 <= c.train.first_day <= c.train.last_day, "train.first_day", c.train.first_day,
         f"must be between 1 and train.last_day ({c.train.last_day})"),
        (c.train.last_day < c.data.num_days, "train.last_day", c.train.last_day,
         f"must be below data.num_days ({c.data.num_days}): day d+1 is evaluated"),
        (c.train.epochs >= 1, "train.epochs", c.train.epochs, "must be at least 1"),
        (c.train.train_batch_size >= 1, "train.train_batch_size", c.train.train_batch_size, "must be >= 1"),
        (c.train.eval_batch_size >= 1, "train.eval_batch_size", c.train.eval_batch_size, "must be >= 1"),
        (c.train.learning_rate > 0, "train.learning_rate", c.train.learning_rate, "must be > 0"),
        (0 < c.split.valid_fraction + c.split.test_fraction < 1, "split.valid_fraction",
         c.split.valid_fraction, "valid + test fractions must lie in (0, 1)"),
        (c.model.d_model % c.model.n_head == 0, "model.d_model", c.model.d_model,
         f"must be a multiple of model.n_head ({c.model.n_head})"),
        (c.stage_timeout_s > 0, "stage_timeout_s", c.stage_timeout_s, "must be > 0"),
        (c.faults.slowdown_stage in ("", *tutorial_stages()), "faults.slowdown_stage", c.faults.slowdown_stage,
         f"must be one of {', '.join(tutorial_stages())}"),
        (c.faults.hang_stage in ("", *tutorial_stages()), "faults.hang_stage", c.faults.hang_stage,
         f"must be one of {', '.join(tutorial_stages())}"),
        (c.faults.slowdown_fraction >= 0, "faults.slowdown_fraction", c.faults.slowdown_fraction, "must be >= 0"),
        (c.faults.slowdown_kind in SLOWDOWN_KINDS, "faults.slowdown_kind", c.faults.slowdown_kind,
         f"must be one of {', '.join(SLOWDOWN_KINDS)}"),
        (c.faults.lr_scale > 0, "faults.lr_scale", c.faults.lr_scale, "must be > 0"),
        (c.faults.ballast_mb >= 0, "faults.ballast_mb", c.faults.ballast_mb, "must be >= 0"),
        (c.faults.d_model == 0 or c.faults.d_model % c.model.n_head == 0, "faults.d_model",
         c.faults.d_model, f"must be a multiple of model.n_head ({c.model.n_head})"),
    ]
    checks += _scale_checks(c)
    for ok, name, value, why in checks:
        if not ok:
            raise HarnessError(f"{name}={value!r}: {why}")


def _scale_checks(c: RunConfig) -> list:
    s = c.scale
    kind, _, n = s.cluster.partition(":")
    return [
        (s.cluster == "" or (kind == "local" and n.isdigit() and int(n) >= 1), "scale.cluster", s.cluster,
         "must be empty or local:N with N >= 1 workers"),
        (not (s.cluster and s.scheduler), "scale.scheduler", s.scheduler,
         "give either scale.cluster or scale.scheduler, not both"),
        (s.nproc >= 1, "scale.nproc", s.nproc, "must be >= 1"),
        (s.nproc < 1 or c.train.train_batch_size % s.nproc == 0, "train.train_batch_size", c.train.train_batch_size,
         f"must be a multiple of scale.nproc ({s.nproc}): it is the global batch, split over the ranks"),
    ]
