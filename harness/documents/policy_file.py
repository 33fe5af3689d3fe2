"""The policy file on disk (the committed ``harness/policies.toml``, or one given with ``--policies``),
read as TOML. What its tables mean (``[[policy]]``, ``[gate]``, ``[nightly]``) and their version check
are harness/judge/policy.py's."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from harness.errors import HarnessError

if sys.version_info >= (3, 11):
    import tomllib  # novermin (guarded: Python 3.10 takes tomli)
else:  # Python 3.10 (the Merlin containers): the same parser, as a package
    import tomli as tomllib

COMMITTED = "harness/policies.toml"  # the committed file's name as a source


def read(path: str | Path | None = None) -> tuple[str, dict]:
    """(source, tables) of the policy file at ``path`` (default: the committed one). HarnessError when it
    cannot be read or is not TOML."""
    if path is None:
        return COMMITTED, committed()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read policy file ({exc.strerror})") from None
    return str(path), _parse(text, str(path))


def committed() -> dict:
    """The tables of the committed harness/policies.toml."""
    return _parse(resources.files("harness").joinpath("policies.toml").read_text(), COMMITTED)


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{source}: not valid TOML ({exc})") from None
