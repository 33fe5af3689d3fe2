"""Dependency bisection (harness/envs/bisect_packages.py): the algorithm on fixed verdicts, then one real
bisection that times layered environments of three tiny distributions."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.envs import layered as env_layered
from harness.envs import bisect_packages as envbisect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_build, beside this file
from test_build import plain_env, write_wheel  # noqa: E402


def test_changed_lists_differences_sorted_without_the_installers():
    good = {"b": "1", "a": "1", "same": "3", "pip": "24", "t4rec-bench": "0.1", "gone": "1"}
    bad = {"a": "2", "b": "1", "same": "3", "pip": "25", "t4rec-bench": "0.2", "new": "5"}
    assert envbisect.changed(good, bad) == {"a": ("1", "2"), "gone": ("1", None), "new": (None, "5")}
    assert list(envbisect.changed(good, bad)) == ["a", "gone", "new"]


def test_one_culprit_among_three_is_named_in_two_steps():
    lines: list[str] = []
    result = envbisect.bisect(["a", "b", "c"], lambda subset: "c" in subset, lines.append)
    assert result.culprits == ("c",) and result.exact
    assert result.steps == [(("a", "b"), False), (("c",), True)]
    assert lines == ["bisect: 3 candidates left: a, b, c; testing a, b",
                     "bisect: 3 candidates left: a, b, c; testing c"]


@pytest.mark.parametrize("culprit", ["a", "b", "c", "d", "e"])
def test_every_position_is_found(culprit):
    result = envbisect.bisect(list("abcde"), lambda subset: culprit in subset)
    assert result.culprits == (culprit,) and result.exact
    assert len(result.steps) <= 5


def test_two_changes_that_only_regress_together_cannot_be_split():
    lines: list[str] = []
    result = envbisect.bisect(["a", "b", "c", "d"], lambda subset: {"b", "d"} <= set(subset), lines.append)
    assert result.culprits == ("a", "b", "c", "d") and not result.exact
    assert result.steps == [(("a", "b"), False), (("c", "d"), False)]
    assert result.reason.startswith("cannot be split")
    assert lines[0] == "bisect: 4 candidates left: a, b, c, d; testing a, b"


def test_together_after_a_first_halving():
    result = envbisect.bisect(list("abcd"), lambda subset: {"a", "b"} <= set(subset))
    assert result.culprits == ("a", "b") and not result.exact
    assert result.steps == [(("a", "b"), True), (("a",), False), (("b",), False)]


def test_cannot_tell_stops_at_the_set_left():
    result = envbisect.bisect(list("abcd"), lambda subset: None if subset == ["a"] else "a" in subset)
    assert result.culprits == ("a", "b") and not result.exact
    assert "could not tell whether a regresses" in result.reason


def test_no_or_one_candidate():
    assert envbisect.bisect([], lambda subset: True).culprits == ()
    one = envbisect.bisect(["x"], lambda subset: pytest.fail("nothing to test"))
    assert one.culprits == ("x",) and one.exact and one.steps == []


@pytest.mark.slow
def test_a_real_bisection_finds_the_slow_distribution(tmp_path):
    """c 2.0 sleeps 50 ms on import-and-call; a and b 2.0 are as fast as 1.0."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in "abc":
        for version in ("1.0", "2.0"):
            body = "import time\ndef f():\n    time.sleep(0.05)\n" if (name, version) == ("c", "2.0") else \
                "def f():\n    pass\n"
            write_wheel(wheels, name, version, {f"{name}.py": body})
    good = plain_env(tmp_path / "good", sorted(wheels.glob("*-1.0-*.whl")))
    bad = plain_env(tmp_path / "bad", sorted(wheels.glob("*-2.0-*.whl")))
    candidates = list(envbisect.changed(env_layered.interpreter_distributions(good),
                                       env_layered.interpreter_distributions(bad)))
    assert candidates == ["a", "b", "c"]

    def is_bad(subset: list[str]) -> bool:
        layer = env_layered.layered(good, tmp_path / f"layer-{'-'.join(subset)}", {name: bad for name in subset})
        good_s, layer_s = [], []
        for _ in range(5):  # alternate, so drift of the machine hits both sides alike
            good_s.append(_time_one(good, tmp_path))
            layer_s.append(_time_one(layer, tmp_path))
        return statistics.median(layer_s) - statistics.median(good_s) > 0.030

    result = envbisect.bisect(candidates, is_bad)
    assert result.culprits == ("c",) and result.exact, result


def _time_one(python: Path, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "import a, b, c; a.f(); b.f(); c.f()"], cwd=cwd, check=True)
    return time.perf_counter() - start
