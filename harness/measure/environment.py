"""Environment fingerprint and machine class, without importing the heavy stack."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

HARNESS = "t4rec-bench"  # this project's own distribution: never an environment difference, never pinned
PACKAGES = ("torch", "transformers", "transformers4rec", "nvtabular", "merlin-core", "merlin-dataloader",
            "merlin-models", "pandas", "numpy", "dask", "distributed", "pyarrow", "cudf", "cudf-cu12",
            "cupy-cuda12x", "dask-cuda", "torchmetrics", "scipy", "t4rec-bench")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Merlin_Core`` -> ``merlin-core``): the one
    spelling every table of distributions here is keyed by."""
    return re.sub(r"[-_.]+", "-", name).lower()


def by_canonical_name(found) -> dict[str, str]:
    """{canonical name: version} of (name, version) pairs listed in sys.path order, sorted by name;
    where a name is installed twice, the first wins, as it does for ``import``."""
    out: dict[str, str] = {}
    for name, version in found:
        if name:
            out.setdefault(canonical_name(name), version)
    return dict(sorted(out.items()))


def installed_distributions(path: list[str] | None = None) -> dict[str, str]:
    """{canonical name: version} of every distribution this process sees on ``path`` (default
    ``sys.path``), by :func:`by_canonical_name`. Another interpreter's: harness.envs.layered."""
    found = metadata.distributions() if path is None else metadata.distributions(path=path)
    return by_canonical_name((_name(dist), dist.version) for dist in found)


def _name(dist) -> str | None:
    try:  # a broken .dist-info must not stop the scan
        return dist.metadata.get("Name")
    except Exception:
        return None


def distribution_diff(base_env: dict, cur_env: dict) -> list[tuple[str, str | None, str | None]]:
    """(name, base version, current version) of each distribution that differs, by name.

    Uses the full ``distributions`` when both environments record it; otherwise (an older record)
    the names both ``packages`` lists have. ``t4rec-bench`` itself and names absent on both sides
    (None) are ignored.
    """
    if "distributions" in base_env and "distributions" in cur_env:
        a, b = base_env["distributions"] or {}, cur_env["distributions"] or {}
        names = set(a) | set(b)
    else:
        a, b = base_env.get("packages") or {}, cur_env.get("packages") or {}
        names = set(a) & set(b)
    names.discard(HARNESS)
    return [(n, a.get(n), b.get(n)) for n in sorted(names)
            if a.get(n) != b.get(n) and not (a.get(n) is None and b.get(n) is None)]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state(cwd: str | None = None) -> dict:
    """{"commit", "dirty"} of the repository at ``cwd`` (default the working directory): harness/vcs.py."""
    from harness import vcs

    return vcs.Repo(cwd if cwd is not None else ".").state()


def machine_class(cuda: dict | None = None) -> str:
    """``gpu-<name>`` with a GPU, else ``cpu-<cores>c-<arch>``, as asv's machine names."""
    if cuda and cuda.get("device_count"):
        name = (cuda.get("device_name") or "gpu").lower()
        short = next((t for t in ("h200", "h100", "a100", "l40s", "l4", "a10g", "v100", "t4") if t in name), "other")
        return f"gpu-{short}"
    return f"cpu-{os.cpu_count()}c-{platform.machine()}"


def fingerprint(env: dict) -> str:
    """Hash of python, the CPU model, the installed distributions (the 19 ``packages`` in records
    that lack ``distributions``) and CUDA."""
    keys = {k: env[k] for k in ("python", "cpu_model")}
    keys["distributions"] = env["distributions"] if "distributions" in env else env["packages"]
    keys["cuda"] = env.get("cuda", {})
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


def collect(cuda: dict | None = None, repo_dir: str | None = None) -> dict:
    import psutil

    env = {
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 1,
        "ram_bytes": psutil.virtual_memory().total,
        "packages": package_versions(),  # the 19 names older records carry; kept for their readers
        "distributions": installed_distributions(),
        "cuda": cuda or {},
        "git": git_state(repo_dir),
        "machine_class": machine_class(cuda),
    }
    env["fingerprint"] = fingerprint(env)
    return env


def diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[tuple[str, object, object]]:
    """Fields that differ between two environments, as (dotted key, a, b)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out.extend(diff(va, vb, f"{prefix}{key}."))
        elif va != vb:
            out.append((f"{prefix}{key}", va, vb))
    return out
