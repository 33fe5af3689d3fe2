"""The differential profile: which functions' self time moved in a stage, the current code against the reference.

Pure functions on folded stacks (py-spy's raw format: one line per distinct stack, ``frame;frame;leaf
count``, frames like ``fn (path/file.py:123)``, a ``process PID:"cmdline"`` frame per process with
``--subprocesses``); no I/O. A sample belongs to a stage when its stack holds the stage's frame
(harness/pipeline/chain.py runs each stage, its planted fault included, in a frame named
``stage__<stage>``); code from before those frames is read through its stage call sites instead
(``call_sites``: the lines of ``s.run("<stage>", ...)`` in its chain.py). A function's self time in a
stage is its samples as the leaf frame, in seconds ``samples / rate_hz``. Each stage keeps the ``top``
functions whose self time moved most, by the size of the move either way (``|delta_s|``, largest first):
a regression's slower function and a function that got faster in its place both show.
"""

from __future__ import annotations

import ast
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.pipeline.chain import STAGE_FRAME

TIME_KINDS = ("time", "throughput")  # measurement kinds whose regression or undecided verdict asks for a profile
TRIGGERS = ("regressed", "undecided")
WHOLE_RUN = "total"  # a trigger measurement of the whole run ("total.cpu_s"): every stage is kept
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


@dataclass(frozen=True)
class Frame:
    function: str
    file: str  # as py-spy shortens it: the path below the sys.path entry ("harness/pipeline/chain.py")
    line: int  # the line running in the frame (not the function's first line)


@dataclass
class StageSamples:
    """One side's samples of one stage."""
    samples: int = 0
    self_samples: Counter = field(default_factory=Counter)  # (function, file) -> samples as the leaf
    lines: Counter = field(default_factory=Counter)  # (function, file, line) -> samples as the leaf


def parse_frame(text: str) -> Frame | None:
    """The function, file and line of one folded frame; None for a process frame or one without a place."""
    if text.startswith("process "):
        return None
    m = _FRAME.match(text)
    return Frame(m["function"], m["file"], int(m["line"])) if m else None


def parse_folded(text: str) -> list[tuple[tuple[str, ...], int]]:
    """(frames root first, samples) per line of folded stacks; HarnessError names a line without a count."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise HarnessError(f"folded stacks line {n}: no sample count at the end: {line[:80]!r}")
        out.append((tuple(stack.split(";")), int(count)))
    return out


def call_sites(source: str, path: str) -> dict[tuple[str, int], str]:
    """{(path, line): stage} for every line of every ``<x>.run("<stage>", ...)`` call in ``source`` (a
    chain.py, whose stage runner is called so): the caller's frame in a stack stands on one of them."""
    sites = {}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                sites[(path, line)] = node.args[0].value
    return sites


def stage_of(frames: list[Frame | None], sites: dict[tuple[str, int], str] | None = None) -> str | None:
    """The stage a stack's sample belongs to: its outermost ``stage__<name>`` frame, else (code without
    those frames) its outermost frame standing on a stage call site; None outside every stage."""
    for f in frames:
        if f is not None and f.function.startswith(STAGE_FRAME):
            return f.function[len(STAGE_FRAME):]
    for f in frames if sites else ():
        if f is not None and sites and (f.file, f.line) in sites:
            return sites[(f.file, f.line)]
    return None


def by_stage(text: str, sites: dict[tuple[str, int], str] | None = None) -> dict[str, StageSamples]:
    """One side's folded stacks as {stage: its samples}; samples outside every stage are left out."""
    out: dict[str, StageSamples] = {}
    for names, count in parse_folded(text):
        frames = [parse_frame(t) for t in names]
        stage = stage_of(frames, sites)
        if stage is None or frames[-1] is None:
            continue
        leaf = frames[-1]
        s = out.setdefault(stage, StageSamples())
        s.samples += count
        s.self_samples[(leaf.function, leaf.file)] += count
        s.lines[(leaf.function, leaf.file, leaf.line)] += count
    return out


def triggers(measurements) -> list[str]:
    """The time measurements (``TIME_KINDS``) a verdict left regressed or undecided: a profile's trigger."""
    return [m.name for m in measurements if m.kind in TIME_KINDS and m.verdict in TRIGGERS]


def kept_stages(trigger: list[str], current: dict, reference: dict) -> list[str]:
    """The stages named by the trigger's measurements ("train.wall_s": train) that either side sampled,
    every sampled stage when one is the whole run's; the one whose samples moved most first."""
    named = {t.split(".")[0] for t in trigger}
    sampled = set(current) | set(reference)
    stages = sampled if WHOLE_RUN in named else named & sampled
    def moved(s: str) -> int:
        return abs(_samples(current, s) - _samples(reference, s))

    return sorted(stages, key=lambda s: (-moved(s), s))


def _samples(side: dict, stage: str) -> int:
    return side[stage].samples if stage in side else 0


def diff(current: dict, reference: dict, stages: list[str], rate_hz: float, top: int) -> list[dict]:
    """The verdict's ``stages`` entries (harness/documents/profile_types.py StageProfile) of ``stages``,
    from each side's ``by_stage``."""
    empty = StageSamples()
    return [stage_entry(s, current.get(s, empty), reference.get(s, empty), rate_hz, top) for s in stages]


def stage_entry(stage: str, cur: StageSamples, ref: StageSamples, rate_hz: float, top: int) -> dict:
    """One stage: each side's samples and seconds, and its ``top`` functions by ``|delta_s|``."""
    rows = [_function(key, cur, ref, rate_hz) for key in set(cur.self_samples) | set(ref.self_samples)]
    rows.sort(key=lambda r: (-abs(r["delta_s"]), r["function"], r["file"]))
    def side(s: StageSamples) -> dict:
        return {"samples": s.samples, "seconds": round(s.samples / rate_hz, 3)}

    return {"stage": stage, "current": side(cur), "reference": side(ref), "functions": rows[:top]}


def _function(key: tuple[str, str], cur: StageSamples, ref: StageSamples, rate_hz: float) -> dict:
    c, r = cur.self_samples[key], ref.self_samples[key]
    return {"function": key[0], "file": key[1], "line": _hottest_line(key, cur if c >= r else ref),
            "current_s": round(c / rate_hz, 3), "reference_s": round(r / rate_hz, 3),
            "delta_s": round((c - r) / rate_hz, 3),
            "current_share": _share(c, cur.samples), "reference_share": _share(r, ref.samples)}


def _hottest_line(key: tuple[str, str], side: StageSamples) -> int:
    """The function's line with the most leaf samples on ``side`` (the lowest line on a tie)."""
    lines = [(n, line) for (fn, file, line), n in side.lines.items() if (fn, file) == key]
    return min(lines, key=lambda t: (-t[0], t[1]))[1]


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def stage_walls(record: dict) -> dict[str, list[float]]:
    """{stage or "total": its wall-time samples} of a run record's ``<stage>.wall_s`` measurements."""
    return {m["name"][: -len(".wall_s")]: list(m["samples"]) for m in record.get("measurements") or []
            if m["name"].endswith(".wall_s")}


def overhead_pct(sides: list[tuple[dict, dict]]) -> dict[str, float]:
    """Per stage, the profiled run's wall time against the median of the judged runs of the same side, in
    percent, averaged over the sides: ``sides`` holds (profiled run's stage_walls, judged runs' stage_walls)."""
    per_stage: dict[str, list[float]] = {}
    for profiled, judged in sides:
        for stage, walls in profiled.items():
            base = statistics.median(judged.get(stage) or [0.0])
            if walls and base > 0:
                per_stage.setdefault(stage, []).append(100.0 * (statistics.median(walls) / base - 1.0))
    return {s: round(statistics.fmean(v), 1) for s, v in sorted(per_stage.items())}
