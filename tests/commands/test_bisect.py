"""`t4rec-bench bisect GOOD BAD` (harness/commands/bisect.py, harness/pairing/bisect_run.py) on a scratch git
repository made from this tree (benchmarks/bisect_demo.py ``scratch_repo``): with a fake duel (the report,
the exit codes, the result document, bad input), and once for real on the smoke profile (slow)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from benchmarks import bisect_demo
from harness.cli import main
from harness.documents import bisect_result
from harness.errors import HarnessError
from harness.pairing import bisect_run, duel

PLANT = 4  # the commit (of 8) that plants the slowdown


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("bisect") / "repo"
    return path, bisect_demo.scratch_repo(path, 8, PLANT)


def fake_duels(monkeypatch, scratch, change=None, fail=()):
    """duel.duel replaced: ``change(base index, other index)`` percent (default: +30% from PLANT on);
    ``fail``: indexes whose runs fail. Returns the (base, other) indexes duelled."""
    _, commits = scratch
    index = {c: i for i, c in enumerate(commits)}
    change = change or (lambda a, b: 30.0 * ((b >= PLANT) - (a >= PLANT)))
    calls = []

    def fake(config, base, other, metric, policies, pairs=None, mode=None, say=None):
        a, b = index[base.code.commit], index[other.code.commit]
        calls.append((a, b))
        if b in fail:
            raise duel.SideFailed(other.name, f"{other.name}: the run failed in stage 'etl' (crash: boom)")
        x = change(a, b)
        state = "regressed" if x > 10 else "ok" if x < 5 else "undecided"
        return duel.Result(metric, state, 5, x, x - 2, x + 2, 0.001, "duet", False, (1.0,) * 5, (1.0 + x / 100,) * 5)

    monkeypatch.setattr(duel, "duel", fake)
    return calls


def bisect(scratch, tmp_path, *extra):
    repo, commits = scratch
    return main(["bisect", commits[0], commits[-1], "--repo", str(repo), "--profile", "smoke", "--device", "cpu",
                 "--out", str(tmp_path / "bisect.json"), *extra])


def test_the_culprit_is_named_with_its_subject_change_and_the_command_that_reproduces_it(
        monkeypatch, scratch, tmp_path, capsys):
    calls = fake_duels(monkeypatch, scratch)
    repo, commits = scratch
    assert bisect(scratch, tmp_path) == 0
    out, err = capsys.readouterr()
    assert f"bisect: culprit {commits[PLANT]} scratch {PLANT}: plant a slowdown" in out
    assert f"against its parent {commits[PLANT - 1][:10]}: total.cpu_s +30.0% [+28.0%, +32.0%]" in out
    reproduce = re.search(r"reproduce: (.*)", out).group(1)
    assert reproduce == (f"t4rec-bench bisect {commits[PLANT - 1]} {commits[PLANT]} --profile smoke --device cpu "
                         f"--metric total.cpu_s --repo {repo.resolve()}")
    assert calls[0] == (0, 7) and calls[-1] == (PLANT - 1, PLANT)  # BAD vs GOOD first, the confirmation last
    assert all(a == 0 for a, _ in calls[:-1])  # every step against GOOD
    assert "candidates left" in err and "against GOOD" in err
    doc = bisect_result.load(tmp_path / "bisect.json")
    assert doc["outcome"] == "culprit" and doc["culprit"]["commit"] == commits[PLANT]
    assert doc["culprit"]["parent"] == commits[PLANT - 1] and doc["together"] == []
    assert doc["probes"][0]["candidates_left"] == 7 and doc["total"]["values"] == [1.3] * 5
    assert doc["reproduce"] == reproduce and doc["workload"][:2] == ["--profile", "smoke"]


def test_quiet_prints_no_progress(monkeypatch, scratch, tmp_path, capsys):
    fake_duels(monkeypatch, scratch)
    assert bisect(scratch, tmp_path, "--quiet") == 0
    assert capsys.readouterr().err == ""


def test_an_undecided_step_exits_6_and_names_where(monkeypatch, scratch, tmp_path, capsys):
    _, commits = scratch
    fake_duels(monkeypatch, scratch, change=lambda a, b: 30.0 if b == 7 else 7.0 if b >= 2 else 0.0)
    assert bisect(scratch, tmp_path) == 6
    out = capsys.readouterr().out
    assert f"UNDECIDED at {commits[4][:10]}" in out  # the first midpoint of c1..c7
    assert bisect_result.load(tmp_path / "bisect.json")["undecided_at"] == commits[4]


def test_commits_that_do_not_run_are_skipped(monkeypatch, scratch, tmp_path, capsys):
    _, commits = scratch
    fake_duels(monkeypatch, scratch, fail=(2,))
    assert bisect(scratch, tmp_path) == 0  # c2 skipped, its neighbour c3 tried: the culprit is still named
    out = capsys.readouterr().out
    assert f"skipped {commits[2][:10]}: the run failed in stage 'etl' (crash: boom)" in out
    assert f"bisect: culprit {commits[PLANT]}" in out
    fake_duels(monkeypatch, scratch, fail=(3, 4))
    assert bisect(scratch, tmp_path) == 4
    out = capsys.readouterr().out
    assert f"the first bad commit is among {commits[3][:10]}..{commits[5][:10]}" in out


def test_no_regression_between_good_and_bad_is_nothing_to_bisect(monkeypatch, scratch, tmp_path, capsys):
    calls = fake_duels(monkeypatch, scratch, change=lambda a, b: 0.0)
    assert bisect(scratch, tmp_path) == 0
    assert "nothing to bisect" in capsys.readouterr().out and calls == [(0, 7)]


def test_good_that_does_not_run_is_a_failed_run_not_a_skip(monkeypatch, scratch, tmp_path, capsys):
    fake_duels(monkeypatch, scratch)
    monkeypatch.setattr(bisect_run._Trees, "_python", lambda self, tree: (_ for _ in ()).throw(
        HarnessError("its environment does not build")))
    assert bisect(scratch, tmp_path) == 4
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize("good, bad, message", [
    ("nope", "HEAD", "error: no such commit: nope"),
    ("HEAD", "HEAD~3", "error: HEAD is not an ancestor of HEAD~3"),
])
def test_bad_revisions_are_one_error_line_before_any_run(monkeypatch, scratch, good, bad, message, capsys):
    calls = fake_duels(monkeypatch, scratch)
    repo, _ = scratch
    assert main(["bisect", good, bad, "--repo", str(repo), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and calls == []


def test_a_commit_whose_install_files_differ_runs_in_its_own_environment(monkeypatch, scratch, tmp_path):
    from harness.envs import build

    built = []

    class Env:
        python = Path("/envs/theirs/bin/python")

    monkeypatch.setattr(build, "ensure", lambda tree, pins=None, progress=None: built.append(tree) or Env())
    trees = bisect_run._Trees(__import__("harness").vcs.Repo(scratch[0]), tmp_path, lambda line: None)
    same = trees.side(scratch[1][1])
    assert same.python == __import__("sys").executable and built == []
    tree = tmp_path / "other"
    tree.mkdir()
    (tree / "pyproject.toml").write_text("[project]\nname = 't4rec-bench'\n")
    for name in ("constraints.txt", "constraints-cpu-torch.txt"):
        (tree / name).write_text("")
    assert trees._python(tree) == "/envs/theirs/bin/python" and built == [tree]


def test_the_result_document_is_versioned(tmp_path):
    path = bisect_result.write({"outcome": "culprit"}, tmp_path / "r.json")
    assert bisect_result.load(path)["kind"] == "t4rec-bench/bisect-result"
    path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(HarnessError, match="newer than this harness reads"):
        bisect_result.load(path)


# ---- the real thing ------------------------------------------------------------------------------

FAST_POLICY = {  # decide in [gate] min_pairs: the plant is large, so a wide margin still tells it apart
    "family_alpha = 0.01": "family_alpha = 0.1",
    "alpha_primary = 0.005": "alpha_primary = 0.05",
    "design_pairs = 8": "design_pairs = 3",
    "threshold_pct = 1.5\nmax_mde_pct = 3.0": "threshold_pct = 10.0\nmax_mde_pct = 25.0",
}


REAL_COMMITS, REAL_PLANT = 4, 2  # the real bisection's scratch: short, to keep the CI run short


@pytest.fixture(scope="module")
def short_scratch(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("bisect-real") / "repo"
    return path, bisect_demo.scratch_repo(path, REAL_COMMITS, REAL_PLANT)


@pytest.mark.slow
def test_bisect_names_the_planted_commit_on_the_smoke_profile(short_scratch, tmp_path, capsys):
    """4 commits; the 3rd spins etl twice its own time (total.cpu_s roughly doubles). Three candidates:
    BAD against GOOD, the halving probes, the culprit against its parent, three pairs each."""
    from harness import REPO_DIR

    text = (REPO_DIR / "harness" / "policies.toml").read_text()
    for old, new in FAST_POLICY.items():
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "policies.toml").write_text(text)
    repo, commits = short_scratch
    code = bisect(short_scratch, tmp_path, "--rows", "20000", "--days", "1-1", "--set",
                  "train.train_batch_size=64", "--pairs", "3", "--policies", str(tmp_path / "policies.toml"), "--quiet")
    out = capsys.readouterr().out
    assert code == 0, out
    doc = bisect_result.load(tmp_path / "bisect.json")
    assert doc["culprit"]["commit"] == commits[REAL_PLANT], out
    assert doc["total"]["change_pct"] > 25 and doc["culprit"]["own"]["state"] == "regressed"
    assert doc["probes"][0]["candidates_left"] == REAL_COMMITS - 1
    assert all(math.isfinite(v) for v in doc["culprit"]["own"]["values"])
    assert f"reproduce: t4rec-bench bisect {commits[REAL_PLANT - 1]} {commits[REAL_PLANT]}" in out
