"""What an interpreter has installed, and layered environments built from installed distributions.

:func:`interpreter_distributions` scans another interpreter's distributions (the first in sys.path
order wins).
:func:`layered` makes a cheap environment for dependency bisection and for topping up a reference
environment: a base environment with a few distributions replaced by a donor environment's
versions, copied, never downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from harness.errors import HarnessError
from harness.measure.environment import by_canonical_name, canonical_name

# ---- what an interpreter has installed ----------------------------------------------------------

# The project itself and the installers: not part of the stack under test. A commit's environment
# never pins them (its own wheel and install commands choose them), and they never explain a
# regression of the pipeline.
TOOLING = frozenset({"t4rec-bench", "pip", "setuptools", "wheel"})

# Run isolated in the other interpreter, which cannot import the harness: it only lists (name,
# version) in sys.path order; harness.measure.environment.by_canonical_name folds the list.
_SCAN = r'''
import importlib.metadata as _md, json as _json


def _name(dist):
    try:
        return dist.metadata.get("Name")
    except Exception:
        return None


print(_json.dumps([[_name(d), d.version] for d in _md.distributions()]))
'''


def interpreter_distributions(python: Path) -> dict[str, str]:
    """Every distribution ``python`` sees, as {canonical name: version}; the first in sys.path order
    wins. Runs the interpreter isolated (-I: no PYTHONPATH, no user site). This process's own:
    harness.measure.environment.installed_distributions."""
    return by_canonical_name(json.loads(_ask(python, _SCAN, [])))


def _ask(python: Path, script: str, args: list[str]) -> str:
    try:
        out = subprocess.run([str(python), "-I", "-c", script, *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"{python}: cannot run it ({exc})") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"{python}: exited {out.returncode}: {last}")
    return out.stdout


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
        wanted[canonical_name(name)] = _copy_distribution(Path(donor), name, dest_site)
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
    got = interpreter_distributions(python)
    wrong = [f"{name} {got.get(name)} (wanted {version})" for name, version in wanted.items()
             if got.get(name) != version]
    if wrong:
        raise HarnessError(f"{python}: the layered environment shows {', '.join(wrong)}")


__all__ = ["TOOLING", "interpreter_distributions", "layered"]
