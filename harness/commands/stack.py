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
from harness.errors import EXIT_NO_BASELINE, EXIT_OK

DEFAULT_CONSTRAINTS = REPO_DIR / "constraints.txt"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "stack", help="name each package whose installed version differs from constraints.txt",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--constraints", metavar="FILE", type=Path, default=DEFAULT_CONSTRAINTS,
                   help="the pins to check (default: constraints.txt of this checkout)")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness.documents import constraints
    from harness.measure import environment as envmod

    pins = constraints.read_pins(args.constraints)
    rows = constraints.differences(pins, envmod.installed_distributions())
    print(report(rows, len(pins), args.constraints.name))
    return EXIT_NO_BASELINE if rows else EXIT_OK


def report(rows: list[tuple[str, str, str | None]], pinned: int, where: str) -> str:
    """One line per differing package, then a summary line."""
    lines = [f"{name}: {have or 'not installed'} (pinned {want})" for name, want, have in rows]
    if rows:
        lines.append(f"{len(rows)} of {pinned} pins in {where} differ from the installed versions")
    else:
        lines.append(f"the installed versions match all {pinned} pins in {where}")
    return "\n".join(lines)
