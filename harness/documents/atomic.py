"""Atomic file writes (a temporary file beside the target, fsync, rename), and the one JSON reader."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically; a reader sees the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, data) -> Path:
    return write_text(path, json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n")


def write_new_json(directory: str | os.PathLike, stem: str, data) -> Path:
    """Write ``data`` as a new file in ``directory``; never overwrite (history is append-only)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        candidate = directory / (f"{stem}.json" if n == 0 else f"{stem}-{n}.json")
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)  # reserve the name, then fill it atomically
        return write_json(candidate, data)
    raise FileExistsError(f"no free name for {stem} in {directory}")


def read_json(path: str | os.PathLike, what: str):
    """The JSON document at ``path``; a missing, truncated or corrupt file is one HarnessError naming
    ``what`` (exit code 2). Callers check the document's kind and version."""
    import json

    from harness.errors import HarnessError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc}); the file is truncated or corrupt") from None
