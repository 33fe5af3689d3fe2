"""One paired judge (issue "Verdicts whose guarantees hold"): no module outside harness/judge/ computes a
p-value, an interval or a stop decision. check, the pytest gate, nightly, bisect-env and calibrate all
call judge/ for them; this scans every other module's source, as tests/test_layers.py does for imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
# The statistical primitives: scipy's tests and distributions, and judge/'s own building blocks (a module
# outside judge/ calls judge/'s decisions instead: decide.verdict_of, decide.stop_reason / stop_pairs,
# significance.paired_look, sequential.sequence / decide_ratio).
PRIMITIVES = {"p_value", "paired_log_ratio_test", "log_ratio_test", "rank_test", "rank_p_value", "ratio_bounds",
              "rank_bounds", "t_critical", "radius", "log_bayes_factor", "decide_arrays", "decide", "mixture_g",
              "ttest_rel", "ttest_ind", "ttest_1samp", "mannwhitneyu", "wilcoxon", "ppf", "cdf", "sf"}


def _outside_judge():
    return sorted(p for p in HARNESS.rglob("*.py") if "judge" not in p.relative_to(HARNESS).parts)


def _offences(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scipy") and (
                node.module.startswith("scipy.stats") or any(a.name == "stats" for a in node.names)):
            out.append(f"line {node.lineno}: imports scipy.stats")
        elif isinstance(node, ast.Import) and any(a.name.startswith("scipy.stats") for a in node.names):
            out.append(f"line {node.lineno}: imports scipy.stats")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PRIMITIVES:
            out.append(f"line {node.lineno}: calls .{node.func.attr}()")
    return out


@pytest.mark.parametrize("path", _outside_judge(), ids=lambda p: str(p.relative_to(HARNESS)))
def test_no_statistics_outside_the_judge(path):
    assert _offences(path) == [], f"{path.relative_to(HARNESS)} computes statistics outside harness/judge/"


def test_the_scan_catches_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from scipy import stats\nfrom harness.judge import stats as s\np = s.p_value(t, higher=True)\n"
                   "import scipy.stats\nx = seq.decide(a, b, c, d)\n")
    assert len(_offences(bad)) == 4
