"""Step timing: CUDA events (or perf_counter) around each training/eval step, warm-up excluded,
and the transformers callback that feeds them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from harness.measure.gpu._hw import _default_cuda


@dataclass(frozen=True)
class StepTiming:
    steps: int  # all steps seen, warm-up included
    warmup_steps: int  # excluded from timed_s and samples
    timed_steps: int
    samples: int  # samples of the timed steps
    timed_s: float  # from the first timed step's start to the last step's end
    busy_s: float  # sum of the timed steps' own durations (input loading between steps left out)
    samples_per_s: float | None  # samples / timed_s; None when no step was timed
    clock: str  # "cuda_event" or "perf_counter"

    def to_dict(self) -> dict:
        return asdict(self)


class CudaEventTimer:
    """Times training/eval steps: CUDA events with ``cuda``, else perf_counter after synchronize.

    Call ``step_begin()`` / ``step_end(samples)`` around each step and ``result()`` once at the
    end (one synchronize there, none per step). The first ``warmup_steps`` steps are counted
    but not timed.
    """

    def __init__(self, warmup_steps: int = 0, cuda=None, clock=time.perf_counter):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.warmup_steps = warmup_steps
        self.cuda = cuda
        self.clock = clock
        self.steps = 0
        self.samples = 0
        self._marks: list[tuple[object, object]] = []
        self._begin = None
        self.callback: object = None  # the transformers callback feeding it (attach_step_timer)

    def _mark(self):
        if self.cuda is None:
            return self.clock()
        event = self.cuda.Event(enable_timing=True)
        event.record()
        return event

    def _elapsed_s(self, a, b) -> float:
        return (b - a) if self.cuda is None else a.elapsed_time(b) / 1000.0

    def step_begin(self) -> None:
        self._begin = self._mark() if self.steps >= self.warmup_steps else None

    def step_end(self, samples: int) -> None:
        if self._begin is not None:
            self._marks.append((self._begin, self._mark()))
            self.samples += int(samples)
        self.steps += 1
        self._begin = None

    def result(self) -> StepTiming:
        if self.cuda is not None:
            self.cuda.synchronize()
        timed = len(self._marks)
        span = self._elapsed_s(self._marks[0][0], self._marks[-1][1]) if timed else 0.0
        busy = sum(self._elapsed_s(a, b) for a, b in self._marks)
        rate = self.samples / span if timed and span > 0 else None
        return StepTiming(self.steps, min(self.steps, self.warmup_steps), timed, self.samples, span, busy,
                          rate, "perf_counter" if self.cuda is None else "cuda_event")


def step_timer(device: str, warmup_steps: int = 0, cuda=None) -> CudaEventTimer:
    """A CudaEventTimer using CUDA events on ``device == "cuda"``, perf_counter otherwise."""
    if device == "cuda":
        cuda = cuda if cuda is not None else _default_cuda()
    return CudaEventTimer(warmup_steps, cuda=cuda if device == "cuda" else None)


def step_timer_callback(timer: CudaEventTimer):
    """A transformers TrainerCallback feeding ``timer`` one step per optimizer step."""
    from transformers import TrainerCallback

    class StepTimerCallback(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            timer.step_begin()

        def on_step_end(self, args, state, control, **kwargs):
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            timer.step_end(per_step * max(1, getattr(args, "world_size", 1)))

    return StepTimerCallback()


TRAIN_WARMUP_STEPS = 1  # the first step of each training day also starts the data loader


def attach_step_timer(trainer, device: str, warmup_steps: int = TRAIN_WARMUP_STEPS) -> CudaEventTimer:
    """Time every optimizer step of a transformers ``trainer`` (CUDA events on GPU), the first
    ``warmup_steps`` counted but not timed. Undo with ``detach_step_timer``."""
    timer = step_timer(device, warmup_steps=warmup_steps)
    timer.callback = step_timer_callback(timer)
    trainer.add_callback(timer.callback)
    return timer


def detach_step_timer(trainer, timer: CudaEventTimer | None) -> dict:
    """Remove ``timer``'s callback from ``trainer``; the day's step fields of the run record
    (warmup_steps, timed_steps, timed_samples, timed_s, step_clock), or ``{}`` without a timer."""
    if timer is None:
        return {}
    trainer.remove_callback(timer.callback)
    r = timer.result()
    return {"warmup_steps": r.warmup_steps, "timed_steps": r.timed_steps, "timed_samples": r.samples,
            "timed_s": r.timed_s, "step_clock": r.clock}
