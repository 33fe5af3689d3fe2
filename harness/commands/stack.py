"""``t4rec-bench stack``: the installed stack against the pins of constraints.txt.

For an environment whose stack was installed by someone else, such as NVIDIA's Merlin PyTorch
container (``make setup-container`` installs the harness alone there): prints one line per pinned
package whose installed version differs from its pin, or that is not installed, then one summary
line. Installed versions are read with importlib.metadata, as the run record's environment reads
them (the first of a name on sys.path wins, as for import).

Exit codes: 0 every pin matches; 3 some differ (the stored baselines were recorded on the pinned
stack, so they are not this stack's comparable baselines); 2 an unreadable constraints file or a
line in it that is not NAME==VERSION.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import REPO_DIR
from harness.errors import EXIT_NO_BASELINE, EXIT_OK, HarnessError

DEFAULT_CONSTRAINTS = REPO_DIR / "constraints.txt"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "stack", help="name each package whose installed version differs from constraints.txt",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--constraints", metavar="FILE", type=Path, default=DEFAULT_CONSTRAINTS,
                   help="the pins to check (default: constraints.txt of this checkout)")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.measure import environment as envmod

    pins = read_pins(args.constraints)
    rows = differences(pins, envmod.installed_distributions())
    print(report(rows, len(pins), args.constraints.name))
    return EXIT_NO_BASELINE if rows else EXIT_OK


def read_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of a constraints file; HarnessError (exit 2) when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read the constraints file {path}: {exc.strerror or exc}") from None
    return parse_pins(text, str(path))


def parse_pins(text: str, where: str) -> dict[str, str]:
    """The NAME==VERSION lines of a constraints file (comments and blank lines skipped), by canonical
    name. Any other line (a range, a marker, an option) is refused with its file and line number."""
    from harness.measure.environment import canonical_name

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


def report(rows: list[tuple[str, str, str | None]], pinned: int, where: str) -> str:
    """One line per differing package, then a summary line."""
    lines = [f"{name}: {have or 'not installed'} (pinned {want})" for name, want, have in rows]
    if rows:
        lines.append(f"{len(rows)} of {pinned} pins in {where} differ from the installed versions")
    else:
        lines.append(f"the installed versions match all {pinned} pins in {where}")
    return "\n".join(lines)
