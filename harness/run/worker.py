"""The worker process: ``python -m harness.run.worker CONFIG.json WORKDIR FD``.

Runs the pipeline and writes its events (harness.measure.events, one JSON line each) to file
descriptor FD. It never raises: every failure becomes an ``Error`` event naming its kind.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from pathlib import Path


def _sender(fd: int):
    from harness.measure import events

    stream = os.fdopen(fd, "w", buffering=1)

    def send(event) -> None:
        stream.write(events.encode(event))
        stream.flush()

    return send


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _quiet_known_warnings() -> None:
    """Warnings the pinned stack prints on every run (stack-facts.md: harmless)."""
    for message in (r".*dtype mappings did not load.*", r".*Dataset in CPU mode.*",
                    r".*implementation of AdamW is deprecated.*"):
        warnings.filterwarnings("ignore", message=message)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: list[str]) -> int:
    config_path, workdir, fd = argv[0], Path(argv[1]), int(argv[2])
    _quiet_known_warnings()
    send = _sender(fd)
    from harness.config import config_from_dict
    from harness.errors import StageFailure
    from harness.measure.events import Error, Note, Result
    from harness.pipeline.chain import execute
    from harness.run import barrier

    try:
        config = config_from_dict(json.loads(Path(config_path).read_text()))
        alone = barrier.wait_from_env()  # a pair's sides start their first stage together
        if alone:
            send(Note(alone))
        send(Result(execute(config, workdir, send)))
    except StageFailure as exc:
        send(Error(exc.stage, exc.kind, str(exc)))
    except MemoryError as exc:
        send(Error(None, "oom", f"out of memory: {_describe(exc)}"))
    except BaseException as exc:  # every failure becomes a record
        kind = "oom" if "out of memory" in str(exc).lower() else "exception"
        send(Error(None, kind, _describe(exc)))
    return 0


if __name__ == "__main__":
    # The result is sent (each event is flushed) and the parent owns the work folder: skip the
    # interpreter's teardown of torch, dask and the loaded stack, which took about a second per
    # run (benchmarks/check_time.py) and is not part of the pipeline.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
