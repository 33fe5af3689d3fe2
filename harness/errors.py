"""One user-facing error type and the exit codes it maps to.

Exit codes mean one thing each (README, "Exit codes"):

  0  ok or improved
  1  regressed (a measurement got worse beyond its policy)
  2  harness error or bad input (bad CLI value, corrupt or future-version file)
  3  no comparable baseline (missing, or the workload differs)
  4  the pipeline run failed (a stage crashed, hung, ran out of memory or went NaN);
     its run record, with status "failed", is still written
  6  undecided: the data could not tell a regression from noise within the gate's pairs
     ([gate] on_undecided = "pass" makes it 0; the headline still says UNDECIDED)
  130 interrupted (Ctrl-C)
"""

EXIT_OK = 0
EXIT_REGRESSED = 1
EXIT_ERROR = 2
EXIT_NO_BASELINE = 3
EXIT_RUN_FAILED = 4
EXIT_UNDECIDED = 6
EXIT_INTERRUPTED = 130


class HarnessError(Exception):
    """A failure the user can act on. The CLI prints ``error: <message>`` and exits."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class StageFailure(Exception):
    """A pipeline stage failed; ``kind`` is one of FAILURE_KINDS."""

    def __init__(self, kind: str, message: str, stage: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.stage = stage


# Error kinds a failed run record can carry (record field failure.kind).
FAILURE_KINDS = ("timeout", "nan_loss", "oom", "exception", "crash", "too_small", "interrupted")
