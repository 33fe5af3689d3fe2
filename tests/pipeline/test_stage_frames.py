"""Each stage runs in a frame named after it (harness/pipeline/chain.py ``_stage_frame``), its planted
fault included, so that a sampling profiler's stacks say which stage a sample belongs to
(harness/judge/profile_diff.py reads the same prefix)."""

from __future__ import annotations

import traceback

from harness.config import build_config
from harness.judge import profile_diff
from harness.measure.meters import StageMeter
from harness.pipeline import chain


def _names() -> list[str]:
    return [f.name for f in traceback.extract_stack()]


def test_a_stage_and_its_planted_fault_run_under_the_stage_frame(monkeypatch):
    config = build_config("smoke", {"faults.slowdown_stage": "etl", "faults.slowdown_fraction": 0.01,
                                    "faults.slowdown_kind": "sleep"})
    seen = {}
    monkeypatch.setattr(chain.time, "sleep", lambda s: seen.setdefault("fault", _names()))  # the planted sleep
    stages = chain._Stages(config, StageMeter([].append))
    assert stages.run("etl", lambda x: (seen.setdefault("work", _names()), x)[1], 7) == 7
    assert seen["work"][-4:] == ["run", "stage__etl", "<lambda>", "_names"]
    assert seen["fault"][-6:] == ["run", "stage__etl", "_apply_faults", "_planted_slowdown", "<lambda>", "_names"]
    assert stages.run("train", _names)[-3:] == ["run", "stage__train", "_names"]  # no fault planted here
    assert chain.STAGE_FRAME == profile_diff.STAGE_FRAME == "stage__"
