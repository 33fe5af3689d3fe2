"""Every figure lives in harness/policies.toml and harness/profiles.toml: help text points to them and
does not repeat them. A number in any `--help` is an exit code, an option's own default (printed by
argparse from the code), or part of an "e.g." example; a help that names a [gate] key with a number
beside it must give the file's value."""

from __future__ import annotations

import argparse
import re

import pytest

from harness import cli
from harness.judge import policy

EXIT_CODES = {"0", "1", "2", "3", "4", "6"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"(top)": parser, **sub.choices}


def _text(p: argparse.ArgumentParser) -> str:
    text = " ".join(p.format_help().split())
    text = re.sub(r"e\.g\. [^;)]*", "", text)  # examples: e.g. tcp://10.0.0.5:8786, --set faults.lr_scale=10
    return re.sub(r"\b\d+\.\d+\.\d+\.\d+(:\d+)?", "", text)  # addresses


def _figures(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?)%?(?![\w.])", text)}


def _defaults(p: argparse.ArgumentParser) -> set[str]:
    out = set()
    for a in p._actions:
        if isinstance(a.default, (int, float)) and not isinstance(a.default, bool):
            out |= {str(a.default), f"{a.default:g}"}
        elif isinstance(a.default, str):
            out |= set(re.findall(r"\d+(?:\.\d+)?", a.default))
    return out


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_help_repeats_no_figure(name):
    p = _subparsers()[name]
    allowed = EXIT_CODES | _defaults(p)
    stray = sorted(_figures(_text(p)) - allowed)
    assert not stray, (f"`t4rec-bench {name} --help` repeats figure(s) {stray}: refer to the key in "
                       f"harness/policies.toml or harness/profiles.toml instead")


def test_help_that_names_a_gate_key_with_a_number_gives_the_files_value():
    gate = policy.load().gate
    for name, p in _subparsers().items():
        for key, number in re.findall(r"\[gate\] (\w+)\D{0,30}?(\d+(?:\.\d+)?)", _text(p)):
            assert float(number) == float(getattr(gate, key)), f"{name} --help: [gate] {key} {number}"


def test_the_check_fails_on_a_stray_figure():
    p = argparse.ArgumentParser(prog="x")
    p.add_argument("--repeat", help="pairs (default 12, as in the policy)")
    assert _figures(_text(p)) - _defaults(p) == {"12"}
