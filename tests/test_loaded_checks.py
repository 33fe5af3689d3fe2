"""benchmarks/loaded_checks.py's pooled A/A launch bias (issue #19, "Symmetric launch")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "loaded_checks.py"


def _module():
    spec = importlib.util.spec_from_file_location("loaded_checks", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(date, plant, ratios):
    return {"date": date, "plant": plant, "load": "none", "launch": "barrier",
            "pairs_by_name": {"total.wall_s": [[10.0, 10.0 * r] for r in ratios]}}


def test_the_bias_pools_every_pair_of_the_aa_checks_only():
    rows = [_row("2026-12-02T10:00", "none", [1.01, 1.02, 1.0]), _row("2026-12-03T10:00", "none", [1.01, 1.0, 1.02]),
            _row("2026-12-03T11:00", "train=0.07", [1.5, 1.5, 1.5])]
    lines = _module().bias_lines(rows)
    assert lines[0].startswith("A/A launch bias over 2 checks (2026-12-02, 2026-12-03)")
    (total,) = lines[1:]
    assert total.startswith("  total.wall_s: 6 pairs, bias +1.00%")  # the planted check is left out
