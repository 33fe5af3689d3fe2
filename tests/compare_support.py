"""Shared by the verdict tests (tests/judge/) and the commands' (tests/commands/): the realistic noise
setting, helpers that judge as the gate does, and ``cli`` (the compare, check, baseline and calibrate
commands). Records come from tests/verdict_fixtures.py."""

from __future__ import annotations

import argparse
import json

from verdict_fixtures import make_record

from harness.judge import policy
from harness.judge.compare import compare

GATE = policy.load().gate
COMMITTED = policy.load()
# Load factor shared by a repetition's stages, plus half of it per stage: stage times then vary
# with a CV of about 5.6% (sqrt(1 + 0.5^2) * 5%), total.wall_s about 5.2%: near the noise of a run
# within a pair of alternating runs on the 2-core runner (5.3%, docs/measurements.md);
# the fixture has no drift, so its unpaired comparisons see the same noise.
REALISTIC = 0.05
TRIALS = range(1, 21)  # seeds of the repeated gate runs


def reference_of(doc: dict) -> dict:
    """An in-session reference made of a baseline document's own runs."""
    return {"record": doc["record"], "provenance": {"commit": "ab" * 20, "runs": doc["record"]["repeat"],
                                                    "how": "re-run in this session"}}


def judged(run: dict, doc: dict, **kw):
    """``run`` as the gate judges it: times against ``doc``'s runs as an in-session reference."""
    return compare(run, doc, reference=reference_of(doc), **kw)


def by_name(verdict) -> dict:
    return {m.name: m for m in verdict.measurements}


def flagged(verdict) -> dict:
    return {m.name: m.verdict for m in verdict.measurements if m.verdict in ("regressed", "improved")}


def regressed(verdict) -> list[str]:
    return [m.name for m in verdict.measurements if m.verdict == "regressed"]


def gated(seed: int, **kw) -> dict:
    """A current run as the gate makes it: [gate] repeat repetitions at realistic noise."""
    return make_record(seed=seed, repeat=GATE.repeat, noise=REALISTIC, **kw)


def cli(argv: list[str]) -> int:
    from harness.commands import baseline as baseline_cmd
    from harness.commands import calibrate, check
    from harness.commands import compare as compare_cmd

    parser = argparse.ArgumentParser(prog="t4rec-bench")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (compare_cmd, check, baseline_cmd, calibrate):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


# Baseline files a command must refuse with exit 2 and leave as they are (each from a good one's text).
BAD_BASELINES = {
    "truncated": lambda good: good[: len(good) // 2],
    "corrupt": lambda good: "\x00\x01 not json",
    "foreign": lambda good: json.dumps({"hello": "world"}),
    "bad record": lambda good: json.dumps({**json.loads(good), "record": {"schema_version": 1}}),
}
