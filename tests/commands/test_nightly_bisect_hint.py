"""`t4rec-bench nightly --steps` (harness/commands/nightly.py): a step whose night covered several commits
prints the exact `t4rec-bench bisect <previous night> <night>` command; a one-commit night prints none."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness.commands import nightly

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t"}


def git_repo(path: Path, n: int) -> list[str]:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    for i in range(n):
        subprocess.run(["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", f"c{i}"], check=True, env=ENV)
    out = subprocess.run(["git", "-C", str(path), "log", "--reverse", "--format=%H"], check=True, env=ENV,
                         capture_output=True, text=True)
    return out.stdout.split()


def asv_ratio_results(results: Path, nights: dict[str, tuple[float, float, float]]) -> None:
    """asv result files of benchmarks/ratios.py (ratio, low, high of total.wall_s, smoke) for ``nights``."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    (results / "m1").mkdir(parents=True)
    params = [["'smoke'"], ["'total.wall_s'"]]
    bench = {f"ratios.Ratio.{k}": {"name": f"ratios.Ratio.{k}", "type": "track", "unit": "ratio", "version": "1",
                                   "params": params, "param_names": ["profile", "measurement"], "code": "",
                                   "timeout": 60.0} for k in ("track_ratio", "track_ratio_low", "track_ratio_high")}
    (results / "benchmarks.json").write_text(json.dumps({**bench, "version": 2}))
    (results / "m1" / "machine.json").write_text(json.dumps({"machine": "m1", "version": 1}))
    for i, (commit, values) in enumerate(nights.items()):
        res = Results({"machine": "m1", "python": "3.11"}, {}, commit, 1_700_000_000_000 + i * 86_400_000,
                      "3.11", "existing", {})
        for (_, info), value in zip(bench.items(), values):
            res.add_result(info, BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0,
                                                 stderr="", profile=None))
        res.save(str(results))


def test_a_step_over_several_commits_prints_the_bisect_command(tmp_path, capsys):
    repo = tmp_path / "repo"
    c = git_repo(repo, 6)
    # nights at c0, c1 and c4: c1's night is its own commit; c4's covers c2, c3 and c4
    asv_ratio_results(tmp_path / "results", {c[0]: (1.0, 0.98, 1.02), c[1]: (1.05, 1.03, 1.07),
                                             c[4]: (1.06, 1.04, 1.08)})
    assert nightly.show_steps(tmp_path / "results", repo, None) == 1
    out = capsys.readouterr().out
    hints = [line.strip() for line in out.splitlines() if "t4rec-bench bisect" in line]
    assert hints == [f"the night covered 3 commits; to name the one: t4rec-bench bisect {c[1]} {c[4]} "
                     f"--profile smoke --metric total.wall_s --repo {repo.resolve()}"]


def test_without_a_repository_there_is_no_hint(tmp_path, capsys):
    repo = tmp_path / "repo"
    c = git_repo(repo, 4)
    asv_ratio_results(tmp_path / "results", {c[0]: (1.0, 0.98, 1.02), c[3]: (1.05, 1.03, 1.07)})
    assert nightly.show_steps(tmp_path / "results", None, None) == 1
    assert "t4rec-bench bisect" not in capsys.readouterr().out
