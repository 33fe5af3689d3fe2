"""`t4rec-bench run` (harness/commands/run.py) as a user calls it: bad input is one error line and exit 2,
--help imports none of the heavy stack, and the flags reach the run configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import ScaleConfig


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["run", "--profile", "nope"], "unknown profile"),
    (["run", "--profile", "smoke", "--rows", "-5"], "--rows"),
    (["run", "--profile", "smoke", "--days", "x"], "--days"),
    (["run", "--profile", "smoke", "--device", "tpu"], "--device"),
    (["run", "--profile", "smoke", "--set", "train.nope=1"], "unknown config field"),
    (["run"], "--profile"),
])
def test_bad_cli_input_is_one_error_line_and_exit_2(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and message in lines[-1]


@pytest.mark.slow
def test_help_does_not_import_the_heavy_stack():
    code = ("import sys; from harness.cli import build_parser; build_parser().format_help(); "
            "heavy = [m for m in ('torch', 'nvtabular', 'transformers4rec', 'pandas', 'scipy', 'matplotlib') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_run_command_prints_one_error_line_for_cuda_without_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this torch sees a GPU")
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--profile", "smoke", "--device", "cuda",
                          "--quiet", "--history", "/nonexistent/never-written"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error: --device cuda:")


def test_cli_flags_reach_the_scale_config():
    from harness.cli import build_parser
    from harness.commands import _common

    args = build_parser().parse_args(["run", "--profile", "smoke", "--device", "cpu", "--cluster", "local:2",
                                      "--nproc", "2"])
    assert _common.config_from_args(args).scale == ScaleConfig(cluster="local:2", nproc=2)
