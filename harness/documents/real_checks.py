"""The ledger of real checks through the gate (baselines/<machine class>/real-checks.jsonl).

One JSON line per check, appended as each check ends, by `t4rec-bench calibrate --checks K` and by
benchmarks/loaded_checks.py (harness/pairing/aa_runs.py ``check_row`` writes the line): the date,
the host's CPU model, the commit, what was planted (``plant``: "none" for an A/A) and what loaded the
host (``load``), the verdict, the pairs and the seconds it took, the primary's pair sd and every gated
time's pairs. Real checks are the only independent trials of the whole gate, so they accumulate across
sessions and hosts, and `calibrate` reports from all of them (harness/judge/gate_errors.py
``ledger_summary``). Lines are only appended; a line that is not JSON is an error naming the line.

Each line carries its own kind and format version (``FORMAT``, read through
harness/documents/versions.py), so a ledger can mix lines of several harness versions and a line from
a newer harness is refused by name. The lines written before the stamp (up to 2026-12-03) carry
neither; their content is version 1, and they are read as such (history is never rewritten).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.documents import versions
from harness.errors import HarnessError

NAME = "real-checks.jsonl"
FORMAT = versions.Format("real-checks ledger line", "t4rec-bench/real-check", 1)


def default_path(machine_class: str, root: Path | None = None) -> Path:
    """baselines/<machine class>/real-checks.jsonl under ``root`` (default: the working folder)."""
    return Path(root or ".") / "baselines" / machine_class / NAME


def append(path: Path, row: dict) -> None:
    """Add ``row`` as one line at the end of ``path`` (made with its folder when missing), flushed to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**row, **FORMAT.stamp()}, allow_nan=False) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def load(path: Path) -> list[dict]:
    """Every check in the ledger at ``path``, oldest first; [] when there is no ledger."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}:{i}: not a JSON line ({exc.msg}); a real-checks ledger has one "
                               f"check per line") from None
        if isinstance(row, dict) and "kind" not in row and FORMAT.key not in row:  # before the stamp: version 1
            row = {**FORMAT.stamp(), **row}
        row = versions.read(row, FORMAT, f"{path}:{i}")  # a newer line is refused before its fields are read
        if not {"overall", "plant", "load", "seconds"} <= set(row):
            raise HarnessError(f"{path}:{i}: not a real check (needs overall, plant, load and seconds)")
        rows.append(row)
    return rows
