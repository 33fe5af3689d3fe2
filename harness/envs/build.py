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

Each command runs through harness.envs.install; harness.envs.layered scans what an
interpreter has installed and layers distributions over an environment.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import REPO_DIR
from harness.documents import asv_config, atomic, versions
from harness.envs.install import Build, Command, Progress, interpolate, run_logged, step
from harness.envs.layered import TOOLING, interpreter_distributions
from harness.errors import HarnessError
from harness.measure.environment import canonical_name

ROOT = REPO_DIR
KIND = "t4rec-bench-env"
# env.json, the cache metadata; a version this harness cannot read is a cache miss (a rebuild).
ENV_FORMAT = versions.Format("reference environment metadata", KIND, 1, key="version")

# asv's own defaults when asv.conf.json leaves the commands out.
DEFAULT_BUILD = ("python -m pip wheel --no-deps --no-index -w {build_cache_dir} {build_dir}",)
DEFAULT_INSTALL = ("in-dir={env_dir} python -m pip install {wheel_file}",)
DEFAULT_TIMEOUT_S = 600.0  # asv's install_timeout default

_BUILD_DIR_REF = re.compile(r"\{build_dir\}/([^\s'\"\[\]]+)")
_PIP_INSTALL = re.compile(r"\bpip\s+install\b")


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
    conf = asv_config.read(conf_path)
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
    """``pins`` without the project itself and the installers (harness.envs.layered.TOOLING), sorted."""
    skip = TOOLING | {canonical_name(recipe(tree).project)}
    return dict(sorted((k, v) for k, v in (pins or {}).items() if canonical_name(k) not in skip))


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
    distributions: dict[str, str]  # canonical name -> version
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
        meta = versions.read(json.loads((env_dir / "env.json").read_text()), ENV_FORMAT)
    except (OSError, ValueError, HarnessError):
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


def _build(tree: Path, key: str, pins: dict | None, root: Path, say: Progress) -> Env:
    env_dir = root / key
    b = Build(key, env_dir, root / f"{key}.log", say)
    shutil.rmtree(env_dir, ignore_errors=True)  # a half-built leftover of a killed build
    start = time.perf_counter()
    try:
        with open(b.log_path, "w") as b.log, tempfile.TemporaryDirectory(dir=root, prefix=f"{key}.wheels-") as cache:
            _make_venv(b)
            commands = _run_commands(b, tree, Path(cache), pins)
        dists = interpreter_distributions(env_dir / "bin" / "python")
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
        "kind": KIND, ENV_FORMAT.key: ENV_FORMAT.current,  # ENV_FORMAT.stamp(), in env.json's order
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


def _make_venv(b: Build) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    b.tell(f"creating a virtualenv with {base} at {b.env_dir}")
    cmd = Command([base, "-m", "venv", str(b.env_dir)], None, {}, frozenset({0}))
    rc, lines = run_logged(cmd, b, cwd=b.env_dir.parent, timeout_s=600)
    if rc != 0:
        last = next((line.strip() for line in reversed(lines) if line.strip()), f"exit {rc}")
        raise HarnessError(f"reference environment {b.key}: could not create a virtualenv with {base} "
                           f"({last}); log: {b.log_path}")


def _run_commands(b: Build, tree: Path, cache: Path, pins: dict | None) -> list[list[str]]:
    """Run the build command(s), then the install command(s); the argv of each as run."""
    r = recipe(tree)
    python = b.env_dir / "bin" / "python"
    variables = {"env_dir": str(b.env_dir), "build_dir": str(tree), "build_cache_dir": str(cache),
                 "project": r.project, "conf_dir": str(r.conf.parent)}
    pins_file = _write_pins(b.env_dir, pins)
    b.steps = len(r.build) + len(r.install)
    ran = []
    for i, raw in enumerate(r.build, 1):
        ran.append(step(b, i, raw, interpolate(raw, variables, python), tree, r.timeout_s))
    if any("{wheel_file}" in raw for raw in r.install):
        variables["wheel_file"] = str(_wheel(b, cache, r.project))
    for i, raw in enumerate(r.install, len(r.build) + 1):
        cmd = interpolate(raw, variables, python)
        if pins_file is not None and _installs_wheel(raw):
            cmd.argv.extend(["-c", str(pins_file)])
            raw = f"{raw} -c {pins_file.name}"
        ran.append(step(b, i, raw, cmd, b.env_dir, r.timeout_s))
    return ran


def _write_pins(env_dir: Path, pins: dict | None) -> Path | None:
    if not pins:
        return None
    text = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    return atomic.write_text(env_dir / "t4rec-bench-pins.txt", text)


def _installs_wheel(raw: str) -> bool:
    return bool(_PIP_INSTALL.search(raw)) and "{wheel_file}" in raw


def _wheel(b: Build, cache: Path, project: str) -> Path:
    wheels = sorted(cache.glob("*.whl"))
    stem = re.sub(r"[-_.]+", "_", project).lower() + "-"
    mine = [w for w in wheels if w.name.lower().startswith(stem)] or wheels
    if len(mine) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise HarnessError(f"reference environment {b.key}: the build command left {len(mine)} wheels of "
                           f"{project} in the build cache, not one (found: {found}); log: {b.log_path}")
    return mine[0]


__all__ = ["ENV_FORMAT", "Env", "Recipe", "cache_root", "ensure", "env_key", "install_files", "pinnable",
           "recipe"]
