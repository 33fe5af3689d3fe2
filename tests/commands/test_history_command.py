"""`t4rec-bench history` (harness/commands/history.py) on a history folder of seeded records with a
planted step (tests/verdict_fixtures.py ``minimal_record``)."""

from __future__ import annotations

import argparse
import json
import random
import re

import pytest
from verdict_fixtures import minimal_record

from harness.commands import history as history_cmd


def write_history(folder, n=12, step_at=7, slowdown=1.4, seed=0):
    rng = random.Random(seed)
    commits = [f"{i + 1:02x}" * 20 for i in range(n)]
    for i, commit in enumerate(commits):
        value = 20.0 * (slowdown if i >= step_at else 1.0) * (1 + rng.gauss(0, 0.01))
        (folder / f"r{i:03d}.json").write_text(json.dumps(minimal_record(i, commit, value)))
    return commits


def _history_args(tmp_path, **overrides):
    parser = argparse.ArgumentParser()
    history_cmd.add_parser(parser.add_subparsers())
    argv = ["history", "--history", str(tmp_path), "--asv-results", str(tmp_path / "no-asv"),
            "--asv-config", str(tmp_path / "no-asv.conf.json")]
    for key, value in overrides.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return parser.parse_args(argv)


def test_history_command_names_the_commit_range_of_a_planted_slowdown(tmp_path, capsys):
    commits = write_history(tmp_path, n=12, step_at=7)
    (tmp_path / "broken.json").write_text("{")
    args = _history_args(tmp_path, metric="etl.wall_s")
    assert args.func(args) == 1  # the slowdown is still in effect: exit code 1 (regressed)
    out, err = capsys.readouterr()
    line = next(l for l in out.splitlines() if l.startswith("etl.wall_s"))
    assert f"{commits[6][:8]}..{commits[7][:8]}" in line
    step = float(re.search(r"([+-][0-9.]+)%", line).group(1))
    assert step == pytest.approx(40.0, abs=3.0)  # 1% noise on each level's median
    assert "regressed (in effect)" in line
    assert "warning: skipped" in err and "broken.json" in err


def test_history_command_json_and_flat_history(tmp_path, capsys):
    write_history(tmp_path, n=10, slowdown=1.0)
    args = _history_args(tmp_path, json=True)
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_history_command_unknown_metric_suggests_names(tmp_path):
    write_history(tmp_path, n=4)
    args = _history_args(tmp_path, metric="etl.wall")
    assert args.func(args) in (0, 1)  # substring match
    args = _history_args(tmp_path, metric="etl.wal_s")
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="did you mean 'etl.wall_s'"):
        args.func(args)


def test_history_command_without_any_history_is_an_error(tmp_path):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="no history to analyse"):
        args = _history_args(tmp_path / "empty")
        args.func(args)
