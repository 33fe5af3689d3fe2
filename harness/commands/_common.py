"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

DEFAULT_HISTORY = Path(os.environ.get("T4REC_BENCH_HISTORY", "reports/history"))


def positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1 or value != float(text):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive whole number")
    return value


def day_range(text: str) -> tuple[int, int]:
    try:
        a, _, b = text.partition("-")
        first, last = int(a), int(b or a)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day range like 1-6") from None
    return first, last


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. train.epochs=2)")
    return key.strip(), value.strip()


def add_option(p: argparse.ArgumentParser, options, flag: str, **kw) -> None:
    """``flag`` with the default and help of its field in the options dataclass ``options`` (the one that
    holds the command's options, e.g. NightlyOptions), unless ``kw`` gives them."""
    name = flag.lstrip("-").replace("-", "_")
    f = next(f for f in dataclasses.fields(options) if f.name == name)
    p.add_argument(flag, **{"default": f.default, "help": f.metadata["help"], **kw})


def options_from(args, options, **given):
    """The options dataclass ``options`` built from the parsed command line ``args`` (its fields of the
    same names), ``given`` instead where named; the dataclass checks them."""
    return options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(options)} | given)


def add_workload_options(p: argparse.ArgumentParser, default_profile: str | None = None) -> None:
    """The options that pick and override a workload (run, check, baseline, calibrate)."""
    g = p.add_argument_group("workload")
    g.add_argument("--profile", default=default_profile, required=default_profile is None,
                   help="named workload from harness/profiles.toml: smoke, ci, seed, nightly, scale")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: cuda when torch sees a GPU, else cpu")
    g.add_argument("--seed", type=int, help="the one seed for data, model, loader and HF")
    g.add_argument("--rows", type=positive_int, help="synthetic interactions (e.g. 1e6); sessions scale with it")
    g.add_argument("--epochs", type=positive_int, help="epochs per training day")
    g.add_argument("--days", type=day_range, help="training days A-B; day d+1 is evaluated")
    g.add_argument("--stage-timeout", type=float, metavar="S", help="watchdog: fail a stage that runs longer")
    g.add_argument("--no-instrument", action="store_true", help="run bare: no samplers or memory counters")
    g.add_argument("--cluster", metavar="local:N", help="run the ETL on a local dask cluster of N worker "
                   "processes (a LocalCUDACluster when the ETL runs on cuDF), on 127.0.0.1; its output is the "
                   "same as in-process")
    g.add_argument("--scheduler", metavar="ADDRESS", help="run the ETL on an existing dask cluster "
                   "(e.g. tcp://10.0.0.5:8786)")
    g.add_argument("--nproc", type=positive_int, help="train with DDP on N processes through torchrun "
                   "(gloo on cpu, nccl on cuda); the batch size stays the global batch")
    g.add_argument("--set", dest="overrides", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set faults.lr_scale=10 (repeatable)")


def overrides_from(args) -> dict:
    out = dict(args.overrides or [])
    for key, attr in (("seed", "seed"), ("data.rows", "rows"), ("train.epochs", "epochs"),
                      ("stage_timeout_s", "stage_timeout"), ("scale.cluster", "cluster"),
                      ("scale.scheduler", "scheduler"), ("scale.nproc", "nproc")):
        if getattr(args, attr, None) is not None:
            out[key] = getattr(args, attr)
    if getattr(args, "days", None):
        out["train.first_day"], out["train.last_day"] = args.days
    if getattr(args, "no_instrument", False):
        out["instrument"] = False
    device = getattr(args, "device", "auto")
    out["device"] = resolve_device(device)
    return out


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def config_from_args(args):
    from harness.config import build_config

    return build_config(args.profile, overrides_from(args))
