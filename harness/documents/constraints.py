"""A pip constraints file (constraints.txt: the stack's exact pins) as ``t4rec-bench stack`` reads it:
NAME==VERSION lines only. pip's format, so it carries no version of its own."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.measure.environment import HARNESS, canonical_name


def read_pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of a constraints file; HarnessError (exit 2) when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read the constraints file {path}: {exc.strerror or exc}") from None
    return parse_pins(text, str(path))


def parse_pins(text: str, where: str) -> dict[str, str]:
    """The NAME==VERSION lines of a constraints file (comments and blank lines skipped), by normalised
    name. Any other line (a range, a marker, an option) is refused with its file and line number."""
    pins = {}
    for number, line in enumerate(text.splitlines(), 1):
        spec = line.split("#", 1)[0].strip()
        if not spec:
            continue
        name, sep, version = (part.strip() for part in spec.partition("=="))
        if not sep or not name or not version or any(c in name + version for c in "<>=!~;[ ,@"):
            raise HarnessError(f"{where}:{number}: {spec!r} is not a NAME==VERSION pin")
        pins[canonical_name(name)] = version
    return pins


def differences(pins: dict[str, str], installed: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(name, pinned version, installed version or None) of each pin the installed set does not match,
    in the pins' order. ``installed``: {canonical name: version}, as environment.installed_distributions()."""
    return [(name, pinned, installed.get(name)) for name, pinned in pins.items() if installed.get(name) != pinned]


LOCK_HEADER = """\
# Every other distribution `make setup` installs (the extras' tools, the stack's transitive
# dependencies, pip and setuptools), at the versions of the environment the stored baselines were
# recorded in. Without it a fresh install takes whatever the registry offers that day, the gate then
# reads a different environment from the baseline's, builds the baseline's and runs a third arm
# (harness/pairing/gate.py plan_arms). Written by `make lock` from .venv; never edited by hand.
"""


def lock_text(installed: dict[str, str], pinned_elsewhere: set[str]) -> str:
    """The lock file's text: ``installed`` ({canonical name: version}) less the harness itself and the
    names ``pinned_elsewhere`` (constraints.txt and the torch file keep their own pins), sorted."""
    skip = pinned_elsewhere | {HARNESS}
    return LOCK_HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(installed.items())
                                 if name not in skip)


def unpinned(installed: dict[str, str], pins: dict[str, str]) -> list[tuple[str, str]]:
    """(name, installed version) of each installed distribution that no pin names (the harness aside)."""
    return [(name, version) for name, version in sorted(installed.items())
            if name not in pins and name != HARNESS]


def write_lock(path: Path, others: list[Path]) -> int:
    """Write the lock file ``path`` from this interpreter's installed distributions, less the names the
    ``others`` constraints files pin (atomic); how many it pins. `make lock` calls it."""
    from harness.documents import atomic
    from harness.measure.environment import installed_distributions

    pinned = set().union(*(read_pins(p) for p in others))
    text = lock_text(installed_distributions(), pinned)
    atomic.write_text(path, text)
    return len(parse_pins(text, str(path)))
