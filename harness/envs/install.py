"""Running one asv install command of a reference environment build (harness.envs.build).

:func:`interpolate` turns one asv command (placeholders, ``in-dir=``, ``return-code=`` and
``VAR=value`` prefixes) into a :class:`Command`; :func:`step` runs it for a :class:`Build`, logging
every line to the build log and showing pip's progress lines, and turns a failure into one
HarnessError that names the package pip could not install (:func:`pip_failure`) where pip says which.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.errors import HarnessError

# pip output lines worth showing while a build runs.
SHOWN = ("Collecting", "Installing collected packages", "Successfully installed")

_PREFIX = re.compile(r"^(?:in-dir=\S+|return-code=\S+|[A-Za-z_]\w*=\S*)\s+")

Progress = Callable[[str], None]


@dataclass
class Build:
    """One build in progress: where it logs and how it reports."""
    key: str
    env_dir: Path
    log_path: Path
    say: Progress
    log: TextIO | None = None  # the open log file, while the build runs
    steps: int = 0

    def tell(self, text: str) -> None:
        self.say(f"reference environment {self.key}: {text}")

    def write_log(self, text: str, flush: bool = False) -> None:
        assert self.log is not None, "the build opens its log before it runs a command"
        self.log.write(text)
        if flush:
            self.log.flush()


# ---- one command --------------------------------------------------------------------------------

@dataclass
class Command:
    """One asv command, ready to run."""
    argv: list[str]
    cwd: str | None  # in-dir=
    env: dict[str, str]  # VAR=value prefixes
    codes: frozenset[int] | None  # accepted return codes; None: any (return-code=any)


def interpolate(raw: str, variables: dict[str, str], python: Path) -> Command:
    """One asv command as argv: split like a shell, placeholders filled in, asv's ``in-dir=``,
    ``return-code=`` and ``VAR=value`` prefixes taken off, a leading ``python`` made ``python``."""
    try:
        parts = [part.format(**variables) for part in shlex.split(raw)]
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(f"asv command {raw!r}: unknown placeholder or bad braces ({exc})") from None
    cmd = Command(parts, None, {}, frozenset({0}))
    while parts and "=" in parts[0] and _prefix(cmd, parts[0]):
        parts.pop(0)
    if parts and parts[0] == "python":
        parts[0] = str(python)
    if not parts:
        raise HarnessError(f"asv command {raw!r}: nothing to run")
    return cmd


def _prefix(cmd: Command, part: str) -> bool:
    """Apply one leading asv prefix to ``cmd``; False if ``part`` is not a prefix."""
    name, value = part.split("=", 1)
    if name == "in-dir":
        cmd.cwd = value
    elif name == "return-code":
        cmd.codes = None if value == "any" else frozenset(int(v) for v in value.split(","))
    elif re.fullmatch(r"[A-Za-z_]\w*", name):
        cmd.env[name] = value
    else:
        return False
    return True


def describe(raw: str) -> str:
    """An asv command as a user reads it: prefixes off, ``python -m pip`` shown as ``pip``."""
    text = raw.strip()
    while _PREFIX.match(text):
        text = _PREFIX.sub("", text, count=1)
    return re.sub(r"^python\s+-m\s*pip\b", "pip", text)


# ---- running it ---------------------------------------------------------------------------------

def step(b: Build, i: int, raw: str, cmd: Command, cwd: Path, timeout_s: float) -> list[str]:
    """Run step ``i`` of ``b`` (``raw`` as written, ``cmd`` interpolated) in ``cmd.cwd`` or ``cwd``;
    its argv. HarnessError on a timeout or a return code ``cmd`` does not accept."""
    where = f"step {i}/{b.steps}: {describe(raw)}"
    b.tell(where)
    rc, lines = run_logged(cmd, b, Path(cmd.cwd) if cmd.cwd else cwd, timeout_s)
    if rc is None:
        raise HarnessError(f"reference environment {b.key}: {where} did not finish in {timeout_s:.0f} s; "
                           f"log: {b.log_path}")
    if cmd.codes is not None and rc not in cmd.codes:
        raise HarnessError(_failure(b, where, rc, lines))
    return cmd.argv


def run_logged(cmd: Command, b: Build, cwd: Path, timeout_s: float) -> tuple[int | None, list[str]]:
    """Run ``cmd``, logging every line and showing pip's progress lines; (exit code or None on
    timeout, the last lines of output)."""
    b.write_log(f"$ {shlex.join(cmd.argv)}\n", flush=True)
    try:
        proc = subprocess.Popen(cmd.argv, cwd=cwd, env=_subenv(b.env_dir, cmd.env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace",
                                start_new_session=True)
    except OSError as exc:
        raise HarnessError(f"reference environment {b.key}: cannot run {cmd.argv[0]} ({exc.strerror}); "
                           f"log: {b.log_path}") from None
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill(proc)

    timer = threading.Timer(timeout_s, expire)
    timer.start()
    lines: deque[str] = deque(maxlen=4000)
    assert proc.stdout is not None  # stdout=PIPE
    try:
        for line in proc.stdout:
            _line(line.rstrip("\n"), b, lines)
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted: take pip and its build subprocesses down with us
            _kill(proc)
            proc.wait()
    return (None if expired.is_set() else rc), list(lines)


def _kill(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and the processes it started (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _line(line: str, b: Build, lines: deque) -> None:
    b.write_log(line + "\n")
    lines.append(line)
    if line.startswith(SHOWN):
        b.tell("  " + (line if len(line) <= 200 else line[:197] + "..."))


def _subenv(env_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(VIRTUAL_ENV=str(env_dir), PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1")
    env.update(extra)
    return env


# ---- what pip said went wrong -------------------------------------------------------------------

_PIP_NAMED = [re.compile(p) for p in (
    r"No matching distribution found for (\S+)",
    r"Could not find a version that satisfies the requirement (\S+)",
    r"Failed building wheel for (\S+)",
    r"Failed to build installable wheels for some pyproject\.toml based projects"
    r"(?:\s*\(([^)]+)\)|\s*\n\s*╰─>\s*(\S+))",
    r"Failed to build (?!installable)(\S+)",
    r"Could not build wheels for (\S+?),",
    r"Cannot install (.+?) because",
    r"Cannot install (\S+)",
)]


def pip_failure(lines: list[str]) -> tuple[str | None, str | None]:
    """(the package pip names as the cause, or None; pip's ERROR line to quote, or None)."""
    text = "\n".join(lines)
    errors = [line.strip() for line in lines if line.lstrip().startswith("ERROR")]
    for pattern in _PIP_NAMED:
        m = pattern.search(text)
        if m:
            name = re.sub(r"\s*\(from [^)]*\)", "", next(g for g in m.groups() if g)).strip().rstrip(".,;:")
            line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0].strip()
            quote = line if line.startswith("ERROR") else (errors[-1] if errors else line)
            return name, quote + _conflict(lines)
    return None, (errors[-1] + _conflict(lines) if errors else None)


def _conflict(lines: list[str]) -> str:
    """pip's "The conflict is caused by:" lines, as "; conflict: a; b", or ""."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "The conflict is caused by:") + 1
    except StopIteration:
        return ""
    causes = []
    for line in lines[start:start + 8]:
        if not line.strip():
            break
        causes.append(line.strip())
    return "; conflict: " + "; ".join(causes) if causes else ""


def _failure(b: Build, where: str, rc: int, lines: list[str]) -> str:
    name, quote = pip_failure(lines)
    if quote is None:
        last = next((line.strip() for line in reversed(lines) if line.strip()), "no output")
        quote = f"exit {rc}: {last}"
    head = f"could not install {name} ({where})" if name else f"{where} failed"
    return " ".join(f"reference environment {b.key}: {head}: {quote}; log: {b.log_path}".split())


__all__ = ["Build", "Command", "describe", "interpolate", "pip_failure", "run_logged", "step"]
