"""The one version check for every document kind the harness reads from disk.

Each kind declares a ``Format``: its ``kind`` tag, the version this harness writes, the field
holding the version, and one upgrade function per older version (``upgrades[N]`` turns a version
N document into version N+1, as asv's ``update_to_N`` does). ``read`` applies them in order, so a
document written by an older commit (a reference run executes old commits) is read as the
current version. A document of another kind (or without its kind tag), a version newer than this
harness's, or one no upgrade path reaches is an error (HarnessError, exit 2) that names the
document and, for versions, the version found and the version read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.errors import HarnessError

Upgrade = Callable[[dict], dict]


@dataclass(frozen=True)
class Format:
    what: str  # the document in messages, e.g. "run record"
    kind: str | None  # the document's "kind" tag; None: the kind has no tag
    current: int  # the version this harness writes and reads
    key: str = "format_version"  # the field that holds the version
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)  # N -> the function from N to N+1
    older_hint: str = ""  # what to do with an older version no upgrade reaches
    newer_hint: str = ""  # what to do, besides upgrading t4rec-bench, with a newer version

    def stamp(self) -> dict:
        """The version and kind fields a new document of this format starts with."""
        return {self.key: self.current, **({"kind": self.kind} if self.kind is not None else {})}


def version_of(doc, fmt: Format):
    """The document's version field (whatever it holds), or None when ``doc`` is not a mapping."""
    return doc.get(fmt.key) if isinstance(doc, Mapping) else None


def read(doc, fmt: Format, where: str = "") -> dict:
    """``doc`` upgraded to ``fmt.current``; HarnessError when it cannot be read as that format.

    The input is not modified: each upgrade returns a new dict. ``where`` (a path) prefixes messages.
    """
    at = f"{where}: " if where else ""
    if not isinstance(doc, Mapping):
        raise HarnessError(f"{at}{fmt.what} is not a JSON object")
    if fmt.kind is not None and doc.get("kind") != fmt.kind:  # every version of a tagged kind carries its tag
        raise HarnessError(f"{at}not a t4rec-bench {fmt.what} (kind is not {fmt.kind!r})")
    version = doc.get(fmt.key)
    if not isinstance(version, int) or isinstance(version, bool):
        hint = f"; {fmt.older_hint}" if fmt.older_hint else ""
        raise HarnessError(f"{at}{fmt.what} has {fmt.key} {version!r}, this harness reads {fmt.current}{hint}")
    if version > fmt.current:
        raise HarnessError(f"{at}{fmt.what} {fmt.key} {version} is newer than this harness reads "
                           f"({fmt.current}); upgrade t4rec-bench{', ' + fmt.newer_hint if fmt.newer_hint else ''}")
    doc = dict(doc)
    while version < fmt.current:
        step = fmt.upgrades.get(version)
        if step is None:
            hint = f"; {fmt.older_hint}" if fmt.older_hint else ""
            raise HarnessError(f"{at}{fmt.what} {fmt.key} {version} has no upgrade to {fmt.current} "
                               f"(this harness reads {fmt.current}){hint}")
        doc = step(dict(doc))
        if doc.get(fmt.key) != version + 1:
            raise AssertionError(f"{fmt.what}: upgrade from {version} must set {fmt.key} to {version + 1}")
        version += 1
    return doc
