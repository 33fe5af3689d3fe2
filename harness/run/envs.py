"""Reference environments: a commit's own virtualenv, built the way that commit installs itself.

The in-session reference must run the baseline commit with the packages that commit installs,
not with this interpreter's, or a dependency upgrade slows both sides and goes unseen. There is
one definition of "how a commit installs itself": its ``asv.conf.json`` (``build_command`` and
``install_command``, with asv's ``in-dir=``, ``return-code=`` and ``VAR=value`` prefixes and its
placeholders), falling back to this repository's when the tree has none. asv's nightly runs and
the reference therefore build the same environment.

Environments are cached under :func:`cache_root`, keyed by :func:`env_key` (the python version,
the machine, the install files' hashes, the commands and the pins). An environment is complete
only once its ``env.json`` exists; a build holds ``<root>/<key>.lock`` and logs to
``<root>/<key>.log``.

:func:`layered` makes a cheap environment for dependency bisection: a base environment with a
few distributions replaced by a donor environment's versions.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import REPO_DIR
from harness.documents import atomic
from harness.errors import HarnessError
from harness.judge.history import read_asv_config

ROOT = REPO_DIR
KIND = "t4rec-bench-env"
FORMAT_VERSION = 1  # of env.json

# asv's own defaults when asv.conf.json leaves the commands out.
DEFAULT_BUILD = ("python -m pip wheel --no-deps --no-index -w {build_cache_dir} {build_dir}",)
DEFAULT_INSTALL = ("in-dir={env_dir} python -m pip install {wheel_file}",)
DEFAULT_TIMEOUT_S = 600.0  # asv's install_timeout default

# Never pinned: the project itself (its wheel is the commit's) and the installers, which the
# install commands choose themselves.
UNPINNED = frozenset({"t4rec-bench", "pip", "setuptools", "wheel"})

# pip output lines worth showing while a build runs.
SHOWN = ("Collecting", "Installing collected packages", "Successfully installed")

_BUILD_DIR_REF = re.compile(r"\{build_dir\}/([^\s'\"\[\]]+)")
_PIP_INSTALL = re.compile(r"\bpip\s+install\b")
_PREFIX = re.compile(r"^(?:in-dir=\S+|return-code=\S+|[A-Za-z_]\w*=\S*)\s+")

Progress = Callable[[str], None]


# ---- what decides the install -------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """How a tree installs itself, read from its asv.conf.json (or this repository's)."""
    conf: Path  # the asv.conf.json used
    project: str  # asv's {project}
    build: tuple[str, ...]  # build_command, uninterpolated
    install: tuple[str, ...]  # install_command, uninterpolated
    timeout_s: float  # asv's install_timeout, per command


def recipe(tree: Path) -> Recipe:
    """The build and install commands of ``tree``: its own asv.conf.json, else this repository's."""
    conf_path = Path(tree) / "asv.conf.json"
    if not conf_path.is_file():
        conf_path = ROOT / "asv.conf.json"
    conf = read_asv_config(conf_path)
    return Recipe(conf_path, str(conf.get("project") or "project"),
                  _commands(conf, "build_command", DEFAULT_BUILD), _commands(conf, "install_command", DEFAULT_INSTALL),
                  float(conf.get("install_timeout") or DEFAULT_TIMEOUT_S))


def _commands(conf: dict, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = conf.get(name, default)
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def install_files(tree: Path) -> dict[str, str]:
    """Relative path -> sha256 of the files that decide the install: pyproject.toml, asv.conf.json
    and every ``{build_dir}/<path>`` the commands name (a folder, e.g. a wheelhouse, hashes all
    its files). HarnessError naming any that is missing."""
    tree = Path(tree)
    r = recipe(tree)
    refs = sorted({ref for cmd in r.build + r.install for ref in _BUILD_DIR_REF.findall(cmd)})
    wanted = {"pyproject.toml": tree / "pyproject.toml", "asv.conf.json": r.conf}
    wanted.update({ref: tree / ref for ref in refs})
    missing = [name for name, path in wanted.items() if not path.exists()]
    if missing:
        raise HarnessError(f"{tree}: the install needs {', '.join(missing)}, which the tree does not have")
    return {name: _digest(path) for name, path in sorted(wanted.items())}


def _digest(path: Path) -> str:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return hashlib.sha256("".join(f"{p.relative_to(path)}:{_digest(p)}\n" for p in files).encode()).hexdigest()


def pinnable(tree: Path, pins: dict[str, str] | None) -> dict[str, str]:
    """``pins`` without the project itself and the installers (:data:`UNPINNED`), sorted."""
    skip = UNPINNED | {normalise(recipe(tree).project)}
    return dict(sorted((k, v) for k, v in (pins or {}).items() if normalise(k) not in skip))


def env_key(tree: Path, pins: dict[str, str] | None = None,
            python_version: str = platform.python_version()) -> str:
    """16 hex characters naming the environment ``ensure(tree, pins)`` builds on this machine."""
    r = recipe(tree)
    doc = {"python": python_version, "machine": platform.machine(), "files": install_files(tree),
           "build": list(r.build), "install": list(r.install), "pins": sorted(pinnable(tree, pins).items())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def cache_root() -> Path:
    """Where environments live: $T4REC_BENCH_ENV_CACHE, else $XDG_CACHE_HOME/t4rec-bench/envs, else
    ~/.cache/t4rec-bench/envs. It outlives sessions, so a commit's environment is built once."""
    if os.environ.get("T4REC_BENCH_ENV_CACHE"):
        return Path(os.environ["T4REC_BENCH_ENV_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "t4rec-bench" / "envs"


# ---- ensure: the cached environment, or a build -------------------------------------------------

@dataclass(frozen=True)
class Env:
    python: Path  # the environment's interpreter
    key: str  # env_key
    cached: bool  # True when an existing environment was reused
    build_s: float | None  # seconds this call spent building; None on a cache hit
    distributions: dict[str, str]  # normalised name -> version
    where: str  # human words, e.g. "cached environment 3f2a... built 2026-11-29T20:10"


def ensure(tree: Path, pins: dict[str, str] | None = None, progress: Progress | None = None) -> Env:
    """The environment ``tree`` installs itself into (see module doc), built unless cached.

    ``pins`` (name -> version, e.g. a baseline's recorded distributions) constrain every ``pip
    install`` of the project's wheel; the project and the installers are not pinned. Progress
    lines go to ``progress`` (default: stderr). A failed step raises one HarnessError that names
    the package pip could not install where pip says which, and the build log's path.
    """
    tree = Path(tree).resolve()
    say = progress or _stderr
    pins = pinnable(tree, pins)
    key = env_key(tree, pins)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{key}.lock", key, say):
        env = _cached(root / key)
        if env is not None:
            say(f"reference environment {key}: reusing the {env.where}")
            return env
        return _build(tree, key, pins, root, say)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _locked(path: Path, key: str, say: Progress) -> Iterator[None]:
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"reference environment {key}: waiting for another process that is building it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cached(env_dir: Path) -> Env | None:
    """The complete environment at ``env_dir`` (env.json written, python runs), else None."""
    try:
        meta = json.loads((env_dir / "env.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("kind") != KIND or meta.get("version") != FORMAT_VERSION:
        return None
    python = env_dir / "bin" / "python"
    if not _runs(python):
        return None
    where = f"cached environment {meta['key']} built {meta['built_at'][:16]}"
    return Env(python, meta["key"], True, None, dict(meta["distributions"]), where)


def _runs(python: Path) -> bool:
    try:
        return subprocess.run([str(python), "-c", "pass"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class _Build:
    """One build in progress: where it logs and how it reports."""
    key: str
    env_dir: Path
    log_path: Path
    say: Progress
    log: object = None  # the open log file
    steps: int = 0

    def tell(self, text: str) -> None:
        self.say(f"reference environment {self.key}: {text}")


def _build(tree: Path, key: str, pins: dict | None, root: Path, say: Progress) -> Env:
    env_dir = root / key
    b = _Build(key, env_dir, root / f"{key}.log", say)
    shutil.rmtree(env_dir, ignore_errors=True)  # a half-built leftover of a killed build
    start = time.perf_counter()
    try:
        with open(b.log_path, "w") as b.log, tempfile.TemporaryDirectory(dir=root, prefix=f"{key}.wheels-") as cache:
            _make_venv(b)
            commands = _run_commands(b, tree, Path(cache), pins)
        dists = distributions(env_dir / "bin" / "python")
        build_s = time.perf_counter() - start
        meta = _meta(tree, key, pins, commands, build_s, dists)
        atomic.write_json(env_dir / "env.json", meta)  # last: marks the environment complete
    except BaseException:
        shutil.rmtree(env_dir, ignore_errors=True)
        raise
    b.tell(f"built in {build_s:.1f} s ({len(dists)} distributions); log: {b.log_path}")
    where = f"environment {key} built now in {build_s:.0f} s"
    return Env(env_dir / "bin" / "python", key, False, build_s, dists, where)


def _meta(tree: Path, key: str, pins: dict | None, commands: list[list[str]], build_s: float,
          dists: dict[str, str]) -> dict:
    r = recipe(tree)
    return {
        "kind": KIND, "version": FORMAT_VERSION,
        "key": key,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "install_files": install_files(tree),  # relative path -> sha256
        "pins": pins,
        "commands": {"build": list(r.build), "install": list(r.install), "ran": commands},
        "build_s": build_s,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "distributions": dists,
    }


def _make_venv(b: _Build) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    b.tell(f"creating a virtualenv with {base} at {b.env_dir}")
    cmd = Command([base, "-m", "venv", str(b.env_dir)], None, {}, frozenset({0}))
    rc, lines = _run(cmd, b, cwd=b.env_dir.parent, timeout_s=600)
    if rc != 0:
        last = next((line.strip() for line in reversed(lines) if line.strip()), f"exit {rc}")
        raise HarnessError(f"reference environment {b.key}: could not create a virtualenv with {base} "
                           f"({last}); log: {b.log_path}")


def _run_commands(b: _Build, tree: Path, cache: Path, pins: dict | None) -> list[list[str]]:
    """Run the build command(s), then the install command(s); the argv of each as run."""
    r = recipe(tree)
    python = b.env_dir / "bin" / "python"
    variables = {"env_dir": str(b.env_dir), "build_dir": str(tree), "build_cache_dir": str(cache),
                 "project": r.project, "conf_dir": str(r.conf.parent)}
    pins_file = _write_pins(b.env_dir, pins)
    b.steps = len(r.build) + len(r.install)
    ran = []
    for i, raw in enumerate(r.build, 1):
        ran.append(_step(b, i, raw, interpolate(raw, variables, python), tree, r.timeout_s))
    if any("{wheel_file}" in raw for raw in r.install):
        variables["wheel_file"] = str(_wheel(b, cache, r.project))
    for i, raw in enumerate(r.install, len(r.build) + 1):
        cmd = interpolate(raw, variables, python)
        if pins_file is not None and _installs_wheel(raw):
            cmd.argv.extend(["-c", str(pins_file)])
            raw = f"{raw} -c {pins_file.name}"
        ran.append(_step(b, i, raw, cmd, b.env_dir, r.timeout_s))
    return ran


def _write_pins(env_dir: Path, pins: dict | None) -> Path | None:
    if not pins:
        return None
    text = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    return atomic.write_text(env_dir / "t4rec-bench-pins.txt", text)


def _installs_wheel(raw: str) -> bool:
    return bool(_PIP_INSTALL.search(raw)) and "{wheel_file}" in raw


def _wheel(b: _Build, cache: Path, project: str) -> Path:
    wheels = sorted(cache.glob("*.whl"))
    stem = re.sub(r"[-_.]+", "_", project).lower() + "-"
    mine = [w for w in wheels if w.name.lower().startswith(stem)] or wheels
    if len(mine) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise HarnessError(f"reference environment {b.key}: the build command left {len(mine)} wheels of "
                           f"{project} in the build cache, not one (found: {found}); log: {b.log_path}")
    return mine[0]


# ---- running one command ------------------------------------------------------------------------

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


def _step(b: _Build, i: int, raw: str, cmd: Command, cwd: Path, timeout_s: float) -> list[str]:
    where = f"step {i}/{b.steps}: {describe(raw)}"
    b.tell(where)
    rc, lines = _run(cmd, b, Path(cmd.cwd) if cmd.cwd else cwd, timeout_s)
    if rc is None:
        raise HarnessError(f"reference environment {b.key}: {where} did not finish in {timeout_s:.0f} s; "
                           f"log: {b.log_path}")
    if cmd.codes is not None and rc not in cmd.codes:
        raise HarnessError(_failure(b, where, rc, lines))
    return cmd.argv


def describe(raw: str) -> str:
    """An asv command as a user reads it: prefixes off, ``python -m pip`` shown as ``pip``."""
    text = raw.strip()
    while _PREFIX.match(text):
        text = _PREFIX.sub("", text, count=1)
    return re.sub(r"^python\s+-m\s*pip\b", "pip", text)


def _run(cmd: Command, b: _Build, cwd: Path, timeout_s: float) -> tuple[int | None, list[str]]:
    """Run ``cmd``, logging every line and showing pip's progress lines; (exit code or None on
    timeout, the last lines of output)."""
    b.log.write(f"$ {shlex.join(cmd.argv)}\n")
    b.log.flush()
    try:
        proc = subprocess.Popen(cmd.argv, cwd=cwd, env=_subenv(b.env_dir, cmd.env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace",
                                start_new_session=True)
    except OSError as exc:
        raise HarnessError(f"reference environment {b.key}: cannot run {cmd.argv[0]} ({exc.strerror}); "
                           f"log: {b.log_path}") from None
    expired = threading.Event()
    timer = threading.Timer(timeout_s, lambda: (expired.set(), _kill(proc)))
    timer.start()
    lines: deque[str] = deque(maxlen=4000)
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


def _line(line: str, b: _Build, lines: deque) -> None:
    b.log.write(line + "\n")
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


def _failure(b: _Build, where: str, rc: int, lines: list[str]) -> str:
    name, quote = pip_failure(lines)
    if quote is None:
        last = next((line.strip() for line in reversed(lines) if line.strip()), "no output")
        quote = f"exit {rc}: {last}"
    head = f"could not install {name} ({where})" if name else f"{where} failed"
    return " ".join(f"reference environment {b.key}: {head}: {quote}; log: {b.log_path}".split())


# ---- what an interpreter has installed ----------------------------------------------------------

_SCAN = r'''
import importlib.metadata as _md, json as _json, re as _re


def scan():
    out = {}
    for dist in _md.distributions():  # sys.path order: the first occurrence is the one imported
        try:
            name = dist.metadata.get("Name")
        except Exception:
            name = None
        if name:
            out.setdefault(_re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return dict(sorted(out.items()))
'''


def distributions(python: Path) -> dict[str, str]:
    """Every distribution ``python`` sees, as {PEP 503 name: version}; the first in sys.path order
    wins. Runs the interpreter isolated (-I: no PYTHONPATH, no user site)."""
    out = _ask(python, _SCAN + "\nprint(_json.dumps(scan()))", [])
    return json.loads(out)


def current_distributions() -> dict[str, str]:
    """:func:`distributions` of this process: harness.measure.environment.distributions, which records use too."""
    from harness.measure.environment import distributions as here

    return here()


def _ask(python: Path, script: str, args: list[str]) -> str:
    try:
        out = subprocess.run([str(python), "-I", "-c", script, *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"{python}: cannot run it ({exc})") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"{python}: exited {out.returncode}: {last}")
    return out.stdout


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it (harness.measure.environment.normalize_name)."""
    from harness.measure.environment import normalize_name

    return normalize_name(name)


# ---- layered environments -----------------------------------------------------------------------

_SITE = r'''
import json, sys, sysconfig
paths = sysconfig.get_paths()
print(json.dumps({"base": getattr(sys, "_base_executable", sys.executable),
                  "purelib": paths["purelib"], "platlib": paths["platlib"]}))
'''

_FILES = r'''
import importlib.metadata as md, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out[name] = None
        continue
    info = getattr(dist, "_path", None)
    out[name] = {"version": dist.version, "info": str(info) if info else None,
                 "files": [str(dist.locate_file(f)) for f in (dist.files or [])]}
print(json.dumps(out))
'''


def layered(base_python: Path, dest: Path, donors: dict[str, Path]) -> Path:
    """A cheap environment at ``dest`` (which must not exist): everything from ``base_python``'s
    environment, except the named distributions, copied from the donor interpreter's environment
    (name -> donor python). Returns dest's python. HarnessError if a donor lacks its distribution or
    the result does not show the donor's version. A module the base version has and the donor's
    lacks stays importable from the base."""
    dest = Path(dest)
    if dest.exists():
        raise HarnessError(f"{dest}: already exists; a layered environment needs a new folder")
    site = json.loads(_ask(base_python, _SITE, []))
    _venv_without_pip(site["base"], dest)
    dest_site = Path(json.loads(_ask(dest / "bin" / "python", _SITE, []))["purelib"])
    bases = dict.fromkeys([site["purelib"], site["platlib"]])
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in bases)
    (dest_site / "_t4rec_bench_base.pth").write_text(lines)
    wanted = {}
    for name, donor in donors.items():
        wanted[normalise(name)] = _copy_distribution(Path(donor), name, dest_site)
    _check_layered(dest / "bin" / "python", wanted)
    return dest / "bin" / "python"


def _venv_without_pip(base: str, dest: Path) -> None:
    try:
        out = subprocess.run([base, "-m", "venv", "--without-pip", str(dest)], capture_output=True, text=True,
                             timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"{dest}: cannot create a virtualenv with {base} ({exc})") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"{dest}: cannot create a virtualenv with {base} ({last})")


def _copy_distribution(donor: Path, name: str, dest_site: Path) -> str:
    """Copy ``name``'s files (those its RECORD lists under the donor's site-packages, and its
    .dist-info) into ``dest_site``; the donor's version."""
    found = json.loads(_ask(donor, _FILES, [name]))[name]
    if not found or not found["info"]:
        raise HarnessError(f"{donor}: distribution {name} is not installed there, so it cannot be layered")
    info = Path(found["info"])
    donor_site = info.parent
    for file in found["files"]:
        path = Path(os.path.normpath(file))
        if path.is_file() and path.is_relative_to(donor_site):
            target = dest_site / path.relative_to(donor_site)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    shutil.copytree(info, dest_site / info.name, dirs_exist_ok=True)
    return found["version"]


def _check_layered(python: Path, wanted: dict[str, str]) -> None:
    got = distributions(python)
    wrong = [f"{name} {got.get(name)} (wanted {version})" for name, version in wanted.items()
             if got.get(name) != version]
    if wrong:
        raise HarnessError(f"{python}: the layered environment shows {', '.join(wrong)}")


__all__ = ["Command", "Env", "Recipe", "cache_root", "current_distributions", "describe", "distributions", "ensure",
           "env_key", "install_files", "interpolate", "layered", "normalise", "pinnable", "pip_failure",
           "recipe", "UNPINNED"]
