"""`t4rec-bench check --format github`, `--markdown-out` and `--report-url`: the pull-request markdown on stdout
and in the file, the same exit codes as the table format. The pipeline is replaced by seeded fixture records
(tests/verdict_fixtures.py), as in tests/judge's fake runner; the judge, the files and the report are real."""

from __future__ import annotations

import json

import pytest
from verdict_fixtures import make_record

from harness import cli

SLOWER = ["--set", "faults.slowdown_stage=train", "--set", "faults.slowdown_fraction=0.35"]
URL = "https://ci.example/run/7#artifacts"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with a baseline of fixture runs for machine class "m"; the runner returns fixture records."""
    from harness.commands import baseline as baseline_cmd
    from harness.run import runner

    calls = []

    def run(config, repeat=1, progress=None, command=None, environment=None):
        calls.append(config)
        f = config.faults
        slow = {f.slowdown_stage: 1 + f.slowdown_fraction} if f.slowdown_stage else {}
        return make_record(seed=len(calls) + 100 * config.seed, repeat=repeat, slow=slow,
                           workload_hash=config.workload_hash(), profile=config.profile,
                           faults=config.faults.active(), run_id=f"run-{len(calls)}")

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setattr(baseline_cmd, "_repo_git", lambda: {"commit": "abc", "dirty": False})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("T4REC_BENCH_REPORT_URL", raising=False)
    assert cli.main(["baseline", "record", "--profile", "ci", "--repeat", "10", "--machine", "m", "--quiet"]) == 0
    return tmp_path


def _check(*extra: str) -> list[str]:
    return ["check", "--profile", "ci", "--machine", "m", "--quiet", *extra]


def test_github_format_prints_the_markdown_it_writes_and_keeps_the_exit_code(workdir, capsys):
    assert cli.main(_check("--no-report", *SLOWER)) == 1
    table_out = capsys.readouterr().out
    assert cli.main(_check("--no-report", "--format", "github", "--markdown-out", "pr.md", *SLOWER)) == 1
    out, err = capsys.readouterr()
    assert out == (workdir / "pr.md").read_text()
    assert out.startswith("### 🔴 t4rec-bench: regressed (exit 1)") and "#### What moved" in out
    assert "run record:" in err and "run record:" not in out and "run record:" in table_out
    assert "HTML report" not in out  # --no-report: nothing to link to
    verdict = json.loads((workdir / "reports" / "verdict.json").read_text())
    assert verdict["overall"] == "regressed" and verdict["exit_code"] == 1


def test_the_markdown_links_to_the_report_url_from_the_option_or_the_environment(workdir, capsys, monkeypatch):
    assert cli.main(_check("--markdown-out", "pr.md", "--report-url", URL)) == 0
    assert f"**HTML report:** [{URL}]({URL})" in (workdir / "pr.md").read_text()
    assert (workdir / "reports" / "index.html").is_file()
    monkeypatch.setenv("T4REC_BENCH_REPORT_URL", "https://ci.example/from-env")
    assert cli.main(_check("--no-report", "--markdown-out", "env.md")) == 0
    assert "(https://ci.example/from-env)" not in (workdir / "env.md").read_text()  # --no-report wins
    assert cli.main(_check("--markdown-out", "env.md")) == 0
    assert "(https://ci.example/from-env)" in (workdir / "env.md").read_text()


def test_without_a_url_the_markdown_links_to_the_report_path(workdir, capsys):
    assert cli.main(_check("--markdown-out", "pr.md")) == 0
    text = (workdir / "pr.md").read_text()
    assert "[reports/index.html](reports/index.html)" in text
    assert (workdir / "reports" / "summary.md").read_text().count("[index.html](index.html)") == 1


def test_an_unknown_format_is_refused(workdir, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(_check("--format", "html"))
    assert exc.value.code == 2 and "invalid choice: 'html'" in capsys.readouterr().err
