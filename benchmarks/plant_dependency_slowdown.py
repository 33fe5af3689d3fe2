"""Build a slower variant of an installed pipeline dependency as a wheel: a planted dependency regression.

    .venv/bin/python benchmarks/plant_dependency_slowdown.py transformers4rec \
        --target transformers4rec/torch/trainer.py:Trainer.training_step --fraction 0.3 --out /tmp/wheels
    .venv/bin/pip install --no-deps /tmp/wheels/transformers4rec-23.12.0.post1-*.whl

The wheel holds the installed distribution's own files (from its RECORD), with ``--target``'s
method wrapped so that each call sleeps ``fraction`` times its own duration, under the version
``<version>.post1``. Installing it is the "dependency upgrade that slows a stage" the gate must
catch against the reference environment and attribute to the environment (docs/usage.md, "The
reference environment"). Pure-Python distributions only.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import zipfile
from importlib import metadata
from pathlib import Path

PATCH = '''

# --- planted slowdown: benchmarks/plant_dependency_slowdown.py (not upstream code) ---
import time as _planted_time

_planted_original = {cls}.{method}


def _planted_slow(self, *args, **kwargs):
    start = _planted_time.perf_counter()
    out = _planted_original(self, *args, **kwargs)
    _planted_time.sleep({fraction!r} * (_planted_time.perf_counter() - start))
    return out


{cls}.{method} = _planted_slow
'''


def _files(dist: metadata.Distribution) -> dict[str, bytes]:
    """Every file the distribution installed under site-packages, by its path in the wheel."""
    out = {}
    for f in dist.files or ():
        path = Path(dist.locate_file(f))
        if f.parts[0] == ".." or f.suffix == ".pyc" or not path.is_file():
            continue
        out[f.as_posix()] = path.read_bytes()
    return out


def _rename(files: dict[str, bytes], old_info: str, new_info: str, version: str, new_version: str) -> dict:
    out = {}
    for name, data in files.items():
        if name.startswith(old_info + "/"):
            name = new_info + name[len(old_info):]
            if name.endswith("/METADATA"):
                data = data.replace(f"\nVersion: {version}\n".encode(), f"\nVersion: {new_version}\n".encode(), 1)
        out[name] = data
    return out


def _record(files: dict[str, bytes], info: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for name, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    return buf.getvalue().encode()


def build(name: str, target: str, fraction: float, out_dir: Path, suffix: str = ".post1") -> Path:
    """Write the slowed wheel of the installed distribution ``name`` into ``out_dir``; its path."""
    dist = metadata.distribution(name)
    version, new_version = dist.version, dist.version + suffix
    file_part, _, attr = target.partition(":")
    cls, _, method = attr.rpartition(".")
    files = _files(dist)
    if file_part not in files or not cls:
        raise SystemExit(f"error: {target}: no such file in {name} {version}, or no CLASS.METHOD after ':'")
    files[file_part] += PATCH.format(cls=cls, method=method, fraction=fraction).encode()
    old_info = next(n.split("/")[0] for n in files if n.split("/")[0].endswith(".dist-info"))
    norm = old_info[: -len(".dist-info")].rsplit("-", 1)[0]
    new_info = f"{norm}-{new_version}.dist-info"
    files = _rename(files, old_info, new_info, version, new_version)
    files.pop(f"{new_info}/RECORD", None)
    files.pop(f"{new_info}/INSTALLER", None)
    files.pop(f"{new_info}/direct_url.json", None)
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{norm}-{new_version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in sorted(files.items()):
            zf.writestr(n, data)
        zf.writestr(f"{new_info}/RECORD", _record(files, new_info))
    return wheel


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="installed distribution, e.g. transformers4rec")
    p.add_argument("--target", required=True, metavar="FILE:CLASS.METHOD",
                   help="method to slow, e.g. transformers4rec/torch/trainer.py:Trainer.training_step")
    p.add_argument("--fraction", type=float, required=True, help="extra time per call, as a share of the call")
    p.add_argument("--out", type=Path, required=True, help="folder for the wheel")
    p.add_argument("--suffix", default=".post1", help="appended to the version (default: %(default)s)")
    args = p.parse_args(argv)
    print(build(args.name, args.target, args.fraction, args.out, args.suffix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
