"""The events a pipeline worker sends its parent over the pipe, and the pipe's format.

Senders (harness.measure.meters.StageMeter, harness.pipeline.chain, harness.run.worker) pass these
dataclasses to a ``send`` callable; the worker's ``send`` writes ``encode(event)`` to the pipe and the
parent (harness.run.runner) reads each line back with ``decode``. On the pipe an event is one line of
JSON: a list of its tag and then its fields in the order declared here. Worker and parent are always
the same commit, so the format carries no version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import ClassVar


@dataclass(frozen=True)
class StageStart:
    TAG: ClassVar[str] = "stage_start"
    name: str  # the stage: synthetic, etl, train, ...
    wall: float  # the sender's wall clock at the start (time.time() in the worker)
    labels: dict = field(default_factory=dict)  # what tells repeated stages apart, e.g. {"day": 3}


@dataclass(frozen=True)
class StageEnd:
    TAG: ClassVar[str] = "stage_end"
    name: str  # the stage that ended
    wall: float  # the sender's wall clock at the end
    measured: dict  # StageMeter's figures: wall_s, cpu_s and the CUDA counters' *_bytes


@dataclass(frozen=True)
class Note:
    TAG: ClassVar[str] = "note"
    text: str  # a plain statement about how the run ran, shown to the user and kept in the record


@dataclass(frozen=True)
class Numerics:
    TAG: ClassVar[str] = "numerics"
    info: dict  # harness.measure.numerics.collect() in the worker, after the imports


@dataclass(frozen=True)
class ProgressReset:
    TAG: ClassVar[str] = "progress_reset"
    day: int  # the training day starting
    total_steps: int  # its training steps, all epochs


@dataclass(frozen=True)
class Progress:
    TAG: ClassVar[str] = "progress"
    steps: int  # training steps done since the last event


@dataclass(frozen=True)
class Result:
    TAG: ClassVar[str] = "result"
    result: dict  # harness.pipeline.chain.execute's return: the worker's part of the record


@dataclass(frozen=True)
class Error:
    TAG: ClassVar[str] = "error"
    stage: str | None  # the stage that failed; None: the one running (the parent knows it)
    kind: str  # one of harness.errors.FAILURE_KINDS
    message: str  # what happened, for a person


Event = StageStart | StageEnd | Note | Numerics | ProgressReset | Progress | Result | Error
_BY_TAG = {cls.TAG: cls for cls in (StageStart, StageEnd, Note, Numerics, ProgressReset, Progress, Result, Error)}


def to_list(event: Event) -> list:
    """The event as the pipe carries it: its tag, then its fields in declaration order."""
    return [event.TAG, *(getattr(event, f.name) for f in fields(event))]


def encode(event: Event) -> str:
    """One line of the pipe (newline included). numpy scalars are written as floats."""
    return json.dumps(to_list(event), default=float) + "\n"


def decode(line: str | bytes) -> Event:
    """The event on one line of the pipe; ValueError for a line that is not one."""
    items = json.loads(line)
    cls = _BY_TAG.get(items[0]) if isinstance(items, list) and items else None
    if cls is None:
        raise ValueError(f"not a worker event: {line[:200]!r}")
    return cls(*items[1:])
