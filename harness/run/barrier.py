"""The launch barrier: the sides of a pair start their first stage together.

Both sides of a pair that runs at once start the same way, through their code's ``python -m harness.cli
run`` (harness/pairing/reference.py). Even so, one side is launched a moment before the other, and the two
start-ups (interpreter, harness, a wrapper's sampler) need not take the same time. The parent therefore
makes one empty folder per pair and gives every side's run the variable ``ENV`` = "FOLDER:PARTIES:TIMEOUT_S"
([gate] barrier_timeout_s). Each side's worker (harness/run/worker.py), once started and before its first
stage, arrives (creates its own file in FOLDER) and waits until PARTIES files are there: the first stage
then starts on every side within a poll of the others. The wait is outside every stage, so no measurement
includes it.

A side that waited TIMEOUT_S in vain starts alone and says so in a note of its record (``NOTE``); the parent
reports that pair as started apart. A side whose code predates this module (an old reference commit) cannot
arrive: the parent then sets no barrier for the pair (``joinable``) and the verdict says why.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "T4REC_BENCH_BARRIER"
NOTE = "launch barrier: "  # the start of the note of a side that started alone
POLL_S = 0.001  # a waiting side looks this often: the sides start within about this of each other


def joinable(code_dir: Path) -> bool:
    """Whether the harness in ``code_dir`` waits at the barrier (it has this module)."""
    return (Path(code_dir) / "harness" / "run" / "barrier.py").is_file()


def spec(folder: Path, parties: int, timeout_s: float) -> str:
    """The value of ``ENV`` for every side of one pair."""
    return f"{folder}:{parties}:{timeout_s:g}"


def wait_from_env(environ=None, name: str | None = None) -> str | None:
    """Arrive and wait when ``ENV`` is set (else return at once). Returns the note to keep when the others
    did not all arrive within the timeout (this side then started alone), else None."""
    value = (os.environ if environ is None else environ).get(ENV)
    if not value:
        return None
    folder, parties, timeout_s = value.rsplit(":", 2)
    here = Path(folder)
    (here / (name or f"{os.getpid()}")).touch()
    deadline = time.monotonic() + float(timeout_s)
    while True:
        arrived = len(os.listdir(here))
        if arrived >= int(parties):
            return None
        if time.monotonic() >= deadline:
            return (f"{NOTE}{arrived} of {parties} sides arrived within {float(timeout_s):g} s ([gate] "
                    f"barrier_timeout_s); this side started its first stage alone")
        time.sleep(POLL_S)


PAD = "T4REC_BENCH_LAUNCH_PAD"


def launch_pad() -> dict[str, str]:
    """One side's padding for one pair: a variable of a random length below a page. The sides' trees lie
    at paths of different lengths (PYTHONPATH), so their environments, and with them the address where
    each process's stack begins, differ by a fixed amount, which can make one side faster in every
    pair (Mytkowicz, Diwan, Hauswirth and Sweeney, "Producing wrong data without doing anything
    obviously wrong!", ASPLOS 2009). A fresh length per side and pair turns that into noise that cancels
    over the pairs (docs/measurements.md, "Launch bias")."""
    import random

    return {PAD: "x" * random.SystemRandom().randrange(os.sysconf("SC_PAGESIZE"))}
