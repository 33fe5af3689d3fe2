"""The nights `t4rec-bench nightly --steps` has already judged (reports/asv/steps-reported.json).

::

    {"format_version": 1, "kind": "t4rec-bench/steps-ledger",
     "nights": [{"context": "asv:m1/...", "commit": "<sha>", "previous": "<sha>",
                 "judged_at": "...", "steps": ["total.wall_s regressed +5.0% ..."]}, ...]}

Each night is judged once: a night already in the ledger is printed but not judged again, so the error
rate of ``--steps`` is that of one night's paired comparison, not one that grows with every run over a
growing history. Entries are only added (the file is rewritten atomically with one more entry).
"""

from __future__ import annotations

from pathlib import Path

from harness.documents import atomic, versions

FORMAT = versions.Format("steps ledger", "t4rec-bench/steps-ledger", 1,
                         older_hint="move the file aside: every night is then judged once more")
NAME = "steps-reported.json"


def default_path(results_dir: Path) -> Path:
    """Beside asv's results folder (asv reads every folder in it as a machine)."""
    return Path(results_dir).parent / NAME


def load(path: Path) -> dict:
    """The ledger at ``path``; an empty one when there is no file."""
    if not Path(path).is_file():
        return {**FORMAT.stamp(), "nights": []}
    return versions.read(atomic.read_json(path, "steps ledger"), FORMAT, str(path))


def judged(doc: dict) -> set[tuple[str, str]]:
    """(context, commit) of every night the ledger holds."""
    return {(n["context"], n["commit"]) for n in doc["nights"]}


def add(path: Path, doc: dict, nights: list[dict]) -> dict:
    """``doc`` with ``nights`` appended, written atomically to ``path``."""
    new = {**doc, "nights": list(doc["nights"]) + list(nights)}
    atomic.write_json(path, new)
    return new
