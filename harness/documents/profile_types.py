"""The types of a verdict's ``profile_diff``: what each key of ``schemas/verdict-profile.schema.json`` holds.

The verdict stays a plain dict in JSON; these TypedDicts name its keys and say what each one means.
``tests/documents/test_profile_types.py`` checks them against the schema (property names, required keys)
so the two cannot drift apart. Built by harness/judge/profile_diff.py and harness/pairing/profile.py.
"""

# No ``from __future__ import annotations``: the schema test reads the real annotations.
from typing import TypedDict


class SideSamples(TypedDict):
    samples: int  # the side's samples whose stack holds the stage
    seconds: float  # samples / rate_hz


class FunctionMove(TypedDict):
    function: str  # the leaf frame's function name ("_planted_slowdown", "<module>")
    file: str  # its file as py-spy shortens it: below the sys.path entry ("harness/pipeline/chain.py")
    line: int  # its line with the most samples on the side where it has more (not the def line)
    current_s: float  # self time in the current code's profiled run (samples as the leaf / rate_hz)
    reference_s: float  # self time in the reference's profiled run
    delta_s: float  # current_s - reference_s: positive is slower
    current_share: float  # current self samples / the stage's current samples, in [0, 1]
    reference_share: float  # reference self samples / the stage's reference samples, in [0, 1]


class StageProfile(TypedDict):
    stage: str  # a pipeline stage named by the trigger (every stage when the trigger is a "total" one)
    current: SideSamples
    reference: SideSamples
    functions: list[FunctionMove]  # [profile] top functions, the largest |delta_s| first


class FoldedPaths(TypedDict):
    current: str  # py-spy raw stacks of the current code's profiled run, relative to the verdict's folder
    reference: str  # the reference's


class ProfileDiff(TypedDict):
    profiler: str | None  # "py-spy 0.4.1"; None when no py-spy was found
    rate_hz: int  # samples per second ([profile] rate_hz)
    trigger: list[str]  # the time measurements, regressed or undecided, that made it run
    skipped: str | None  # why there is no profile (then stages is empty); None when there is one
    overhead_pct: dict[str, float]  # per stage and "total": profiled run's wall time vs the judged runs' median
    stages: list[StageProfile]  # the trigger's stages, the one whose samples moved most first
    folded: FoldedPaths | None  # the raw stacks kept beside the verdict (for a flame graph); None when none
