"""asv integration: the configuration checks, asv's regressions page and `t4rec-bench history` agree
on a planted slowdown, and (slow) one real `t4rec-bench nightly --existing --quick` on the smoke
profile files track_ values equal to the run record it wrote into the history folder."""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness import vcs
from harness.documents import asv_config as asv_conf
from harness.judge import changepoints, history

ROOT = Path(__file__).resolve().parents[2]
ASV = (sys.executable, "-m", "asv")


def git_repo(path: Path, n: int) -> list[str]:
    """A git repository with ``n`` empty commits an hour apart; their hashes, oldest first."""
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    for i in range(n):
        date = f"2025-01-01T{i:02d}:00:00+00:00"
        subprocess.run(["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", f"c{i}"], check=True,
                       env={**env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    out = subprocess.run(["git", "-C", str(path), "log", "--reverse", "--format=%H"], check=True,
                         capture_output=True, text=True)
    return out.stdout.split()


def asv_config(tmp: Path, repo: Path) -> Path:
    """The repository's asv.conf.json with its repo and output folders moved under ``tmp``."""
    conf = asv_conf.read(ROOT / "asv.conf.json")
    conf.update(repo=str(repo), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(tmp / "results"),
                html_dir=str(tmp / "html"), env_dir=str(tmp / "env"))
    path = tmp / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def asv(*args, cwd=ROOT, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*ASV, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_asv_check_passes():
    out = asv("check", "-E", "existing", "--config", str(ROOT / "asv.conf.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout


def test_config_matches_the_issue():
    conf = asv_conf.read(ROOT / "asv.conf.json")
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["results_dir"].startswith("reports/asv/") and conf["html_dir"].startswith("reports/asv/")
    assert conf["default_benchmark_timeout"] > 60
    install = " ".join(conf["install_command"])
    assert "-c {build_dir}/constraints.txt" in install and "-c {build_dir}/constraints-cpu-torch.txt" in install
    assert all(0 <= v < 1 for v in conf["regressions_thresholds"].values())


def test_asv_thresholds_are_the_policies_figures():
    """One source for every figure: the nightly's steps follow harness/policies.toml."""
    from harness.judge import policy

    policies = policy.load()
    thresholds = asv_conf.read(ROOT / "asv.conf.json")["regressions_thresholds"]
    cross = policies.for_measurement("train.wall_s", "time").cross_session_pct / 100
    memory = policies.for_measurement("train.peak_anon_bytes", "memory").threshold_pct / 100
    for pattern, value in thresholds.items():
        if "Time" in pattern or "Throughput" in pattern or "time_" in pattern:
            assert value == pytest.approx(cross), pattern
        if "HostAnonMemory" in pattern:
            assert value == pytest.approx(memory), pattern


# ---- asv's regressions page and `t4rec-bench history` on the same planted slowdown ------------------

BENCH = {"name": "pipeline.StageWallTime.track_wall_s", "type": "track", "unit": "seconds",
         "params": [["'smoke'"], ["'etl'"]], "param_names": ["profile", "stage"], "version": "1", "code": "",
         "timeout": 60.0}


def write_asv_results(results: Path, commits: list[str], values: list[float]) -> None:
    from asv.results import Results
    from asv.runner import BenchmarkResult

    results.mkdir(parents=True)
    (results / "benchmarks.json").write_text(json.dumps({BENCH["name"]: BENCH, "version": 2}))
    (results / "box").mkdir()
    (results / "box" / "machine.json").write_text(json.dumps(
        {"machine": "box", "os": "Linux", "arch": "x86_64", "cpu": "cpu", "num_cpu": "2", "ram": "1", "version": 1}))
    for i, (commit, value) in enumerate(zip(commits, values)):
        res = Results({"machine": "box", "python": "3.11"}, {}, commit, 1735689600000 + i * 3600000, "3.11",
                      "existing", {})
        res.add_result(BENCH, BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0, stderr="",
                                              profile=None))
        res.save(str(results))


@pytest.mark.slow
def test_asv_regressions_page_and_history_name_the_same_commit_range(tmp_path, capsys):
    commits = git_repo(tmp_path / "repo", 14)
    rng = random.Random(3)
    values = [(20.0 if i < 8 else 26.0) * (1 + rng.gauss(0, 0.01)) for i in range(14)]  # +30% at commit 8
    config = asv_config(tmp_path, tmp_path / "repo")
    write_asv_results(tmp_path / "results", commits, values)
    out = asv("publish", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr

    page = json.loads((tmp_path / "html" / "regressions.json").read_text())["regressions"]
    rev_to_hash = json.loads((tmp_path / "html" / "index.json").read_text())["revision_to_hash"]
    ((name, _graph, _params, _idx, _last, _best, jumps),) = page
    ((rev_a, rev_b, _va, _vb),) = jumps
    assert name == "pipeline.StageWallTime.track_wall_s('smoke', 'etl')"
    # asv drops the first end when the range holds one commit: "in commit <commit 8>", i.e. (7, 8].
    assert rev_to_hash[str(rev_b)] == commits[8]
    assert rev_a is None or rev_to_hash[str(rev_a)] == commits[7]

    conf = asv_conf.read(config)
    series, skipped = history.asv_series(tmp_path / "results", conf["regressions_thresholds"],
                                         vcs.order(tmp_path / "repo"))
    assert skipped == () and [s.metric for s in series] == [name]
    assert series[0].threshold_pct == pytest.approx(20.0)  # asv.conf.json: stage times, the drift floor
    for method in changepoints.METHODS:
        (cp,) = changepoints.detect(series[0], method)
        assert (cp.commit_before, cp.commit_after) == (commits[7], commits[8])

    from harness.commands import history as history_cmd

    parser = argparse.ArgumentParser()
    history_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["history", "--source", "asv", "--asv-results", str(tmp_path / "results"),
                              "--asv-config", str(config)])
    assert args.func(args) == 1
    assert f"{commits[7][:8]}..{commits[8][:8]}" in capsys.readouterr().out


def test_asv_series_skips_unreadable_result_files(tmp_path):
    commits = [f"{i:02x}" * 20 for i in range(1, 4)]
    write_asv_results(tmp_path / "results", commits, [1.0, 1.0, 1.0])
    (tmp_path / "results" / "box" / "deadbeef-existing.json").write_text("{ not json")
    series, skipped = history.asv_series(tmp_path / "results")
    assert len(series) == 1 and len(series[0].points) == 3
    assert len(skipped) == 1 and "deadbeef-existing.json" in skipped[0][0]


# ---- one real nightly run: smoke profile, current environment, quick ----------------------------------

def _expected(entry: str, m: dict) -> float | None:
    """What a track_ benchmark must report, from the record's measurements ``m`` (name: value);
    the representation is the one benchmarks/pipeline.py documents. None: the record lacks it."""
    name, _, params = entry.partition("(")
    profile, *rest = [p.strip(" '") for p in params.rstrip(")").split(",")]
    bench = name.split(".", 1)[1]
    reciprocal = lambda key: 1 / m[key] if key in m else None  # noqa: E731
    table = {
        "StageWallTime.track_wall_s": lambda: m.get(f"{rest[0]}.wall_s"),
        "StageCpuTime.track_cpu_s": lambda: m.get(f"{rest[0]}.cpu_s"),
        "HostMemory.track_peak_rss_bytes": lambda: m.get(f"{rest[0]}.peak_rss_bytes"),
        "HostAnonMemory.track_peak_anon_bytes": lambda: m.get(f"{rest[0]}.peak_anon_bytes"),
        "GpuMemory.track_peak_bytes": lambda: m.get(f"{rest[0]}.{rest[-1]}"),
        "Throughput.track_seconds_per_item": lambda: reciprocal(rest[0]),
        "Quality.track_inverse_metric": lambda: reciprocal(f"quality.{rest[0]}"),
        "Loss.track_final_train_loss": lambda: m.get("quality.final_train_loss"),
    }
    return table[bench]()  # KeyError: a new track_ benchmark this test does not know yet


def _asv_values(results: Path) -> dict:
    """{entry name: value} of every benchmark in the one asv result file under ``results``."""
    from asv.results import Results

    (path,) = [p for p in results.glob("*/*.json") if p.name != "machine.json"]
    res = Results.load(str(path))
    values = {}
    for key in res.get_all_result_keys():
        params = res.get_result_params(key)
        for entry, value in zip(history._entry_names(key, params), res.get_result_value(key, params)):
            values[entry] = value
    return values


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_nightly_smoke_under_asv_tracks_the_record_it_wrote(tmp_path, monkeypatch, capsys):
    (commit,) = git_repo(tmp_path / "repo", 1)
    config = asv_config(tmp_path, tmp_path / "repo")
    monkeypatch.setenv("HOME", str(tmp_path))  # asv machine writes ~/.asv-machine.json
    from harness.commands import nightly

    parser = argparse.ArgumentParser()
    nightly.add_parser(parser.add_subparsers())
    args = parser.parse_args(["nightly", "--profile", "smoke", "--existing", "--quick", "--machine", "testbox",
                              "--config", str(config), "--history", str(tmp_path / "history"),
                              "--report", str(tmp_path / "report")])
    assert args.func(args) == 0, capsys.readouterr().out[-5000:]

    (record_path,) = (tmp_path / "history").glob("*.json")
    from harness.documents import record

    rec = record.load(record_path)
    assert rec["status"] == "ok" and rec["profile"] == "smoke"
    assert rec["environment"]["git"]["commit"] == commit
    got = _asv_values(tmp_path / "results")
    m = {x["name"]: x["value"] for x in rec["measurements"]}
    tracked = [e for e in got if e.startswith("pipeline.")]
    checked = 0
    for entry in tracked:
        want = _expected(entry, m) if "('smoke'" in entry else None  # nightly not selected: skipped
        if want is None:
            assert got[entry] is None or math.isnan(got[entry]), entry
        else:
            assert got[entry] == want, entry
            checked += 1
    assert checked >= 30  # stage times, rates, memory, metrics and loss of the smoke run
    for entry in ("stages.EtlTransform.time_etl_transform('smoke')", "stages.TrainEpoch.time_train_epoch('smoke')",
                  "stages.EtlTransform.peakmem_etl_transform('smoke')",
                  "stages.TrainEpoch.peakmem_train_epoch('smoke')"):
        assert got[entry] is not None and got[entry] > 0, entry
    assert (tmp_path / "html" / "index.html").is_file()

    from harness.commands import history as history_cmd

    hparser = argparse.ArgumentParser()
    history_cmd.add_parser(hparser.add_subparsers())
    hargs = hparser.parse_args(["history", "--history", str(tmp_path / "history"), "--asv-results",
                                str(tmp_path / "results"), "--asv-config", str(config)])
    assert hargs.func(hargs) == 0  # one point per series: nothing to detect, and no crash
    assert "no change points" in capsys.readouterr().out


# ---- the suites and the nightly command, without running anything --------------------------------

@pytest.fixture()
def suites(monkeypatch):
    """benchmarks.pipeline imported as asv imports it, with only the smoke profile selected."""
    import importlib

    monkeypatch.setenv("T4REC_BENCH_PROFILES", "smoke")
    monkeypatch.syspath_prepend(str(ROOT))
    for name in ("benchmarks._shared", "benchmarks.pipeline"):
        sys.modules.pop(name, None)
    yield importlib.import_module("benchmarks.pipeline")
    for name in ("benchmarks._shared", "benchmarks.pipeline"):
        sys.modules.pop(name, None)


def _fake_record(status="ok"):
    from harness.documents import record

    names = {"etl.wall_s": 2.0, "etl.rows_per_s": 25_000.0, "etl.peak_rss_bytes": 2.0**30,
             "quality.ndcg_at_20": 0.2, "quality.final_train_loss": 6.5}
    return {"status": status, "failure": None if status == "ok" else {"stage": "train", "kind": "nan_loss",
                                                                       "message": "loss is nan"},
            "measurements": [record.measurement(n, v) for n, v in names.items()]}


def test_track_benchmarks_read_the_record(suites):
    records = {"smoke": _fake_record()}
    assert suites.StageWallTime().track_wall_s(records, "smoke", "etl") == 2.0
    assert suites.Throughput().track_seconds_per_item(records, "smoke", "etl.rows_per_s") == 1 / 25_000.0
    assert suites.HostMemory().track_peak_rss_bytes(records, "smoke", "etl") == 2.0**30
    assert suites.Quality().track_inverse_metric(records, "smoke", "ndcg_at_20") == pytest.approx(5.0)
    assert suites.Loss().track_final_train_loss(records, "smoke") == 6.5
    with pytest.raises(NotImplementedError):  # in setup, so asv reports skipped (n/a): no GPU memory on CPU
        suites.GpuMemory().setup(records, "smoke", "train", "torch_peak_allocated_bytes")
    suites.HostMemory().setup(records, "smoke", "etl")  # present: not skipped


def test_track_setup_skips_unselected_profiles_and_fails_on_failed_runs(suites):
    with pytest.raises(NotImplementedError, match="not selected"):
        suites.StageWallTime().setup({}, "nightly", "etl")
    with pytest.raises(RuntimeError, match="nan_loss"):
        suites.StageWallTime().setup({"smoke": _fake_record("failed")}, "smoke", "etl")


def test_unknown_profile_in_the_environment_is_refused(monkeypatch):
    import importlib

    monkeypatch.setenv("T4REC_BENCH_PROFILES", "smoek")
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("benchmarks._shared", None)
    with pytest.raises(ValueError, match="unknown profile"):
        importlib.import_module("benchmarks._shared")
    sys.modules.pop("benchmarks._shared", None)


def _nightly_args(*argv):
    from harness.commands import nightly

    parser = argparse.ArgumentParser()
    nightly.add_parser(parser.add_subparsers())
    return nightly.options(parser.parse_args(["nightly", *argv]))


def test_nightly_plan_managed_and_existing():
    from harness.nightly import asv as asv_nightly

    machine, run, publish = asv_nightly.plan(_nightly_args("--profile", "smoke"), "cpu-2c-x86_64", None)
    assert machine.argv[3:] == ("machine", "--config", str(ROOT / "asv.conf.json"), "--yes", "--machine",
                                "cpu-2c-x86_64")
    assert run.argv[3:5] == ("run", "NEW") and "-E" not in run.argv
    assert run.env["T4REC_BENCH_PROFILES"] == "smoke"
    assert Path(run.env["T4REC_BENCH_RECORD_DIR"]).is_absolute()
    assert publish.argv[3] == "publish"
    _, run, _ = asv_nightly.plan(_nightly_args("--existing", "--quick"), "gpu-h100", "f" * 40)
    joined = " ".join(run.argv)
    assert "-E existing --set-commit-hash " + "f" * 40 in joined and "NEW" not in joined
    assert run.argv[-1] == "--quick" and run.env["T4REC_BENCH_COMMIT"] == "f" * 40


def test_the_plan_sets_only_variables_the_benchmarks_read(suites):
    """Under asv the benchmarks import the benchmarked commit's harness, never this checkout's, so the
    suite's own variables are named in benchmarks/_shared.py and set by the plan: they must agree."""
    from harness.nightly import asv as asv_nightly
    from harness.nightly import pairs as nightly_pairs

    shared = suites._shared  # the module the suites read their variables from
    read = {shared.PROFILES_VAR, shared.RECORD_DIR_VAR, shared.COMMIT_VAR, shared.DEVICE_VAR,
            nightly_pairs.PREVIOUS_VAR, nightly_pairs.REPO_VAR, nightly_pairs.PAIRS_VAR, nightly_pairs.MODE_VAR}
    args = _nightly_args("--existing", "--pair-mode", "duet")
    _, run, _ = asv_nightly.plan(args, "m1", "f" * 40, previous="e" * 40, repo=ROOT)
    assert set(run.env) == read


def test_the_first_night_benchmarks_head_only(tmp_path, capsys):
    """With no results for the machine, asv's NEW would select every commit on main: HEAD only."""
    import json

    from harness.cli import main

    conf = {**asv_conf.read(ROOT / "asv.conf.json"), "repo": str(ROOT),
            "results_dir": str(tmp_path / "results")}
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    args = ["nightly", "--config", str(tmp_path / "asv.conf.json"), "--machine", "m1", "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "no results for machine m1 yet: benchmarking HEAD only" in out and " run HEAD^! " in out
    (tmp_path / "results" / "m1").mkdir(parents=True)
    (tmp_path / "results" / "m1" / "machine.json").write_text("{}")
    (tmp_path / "results" / "m1" / "abcdef12-virtualenv-py3.11.json").write_text("{}")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "HEAD only" not in out and " run NEW " in out


def test_nightly_treats_no_new_commit_as_success_and_reports_failures(capsys):
    from harness.nightly import asv as asv_nightly

    quiet = asv_nightly.AsvCommand("run the benchmarks", (sys.executable, "-c", f"print({asv_nightly.NOTHING_NEW!r}); exit(1)"))
    broken = asv_nightly.AsvCommand("publish the HTML", (sys.executable, "-c", "exit(3)"))
    assert asv_nightly.run_commands([quiet]) == []
    assert asv_nightly.run_commands([quiet, broken]) == ["publish the HTML"]
    assert "no new commit" in capsys.readouterr().out


def test_history_orders_runs_by_commit_not_by_start_time(tmp_path, capsys):
    from verdict_fixtures import minimal_record as make_record

    from harness.commands import history as history_cmd

    commits = git_repo(tmp_path / "repo", 8)
    rng = random.Random(5)
    (tmp_path / "history").mkdir()
    for run in range(8):  # `asv run a..b` benchmarks the newest commit first: run 0 is commit 7
        pos = 7 - run
        value = (28.0 if pos >= 4 else 20.0) * (1 + rng.gauss(0, 0.01))  # slower from commit 4 on
        (tmp_path / "history" / f"{run}.json").write_text(json.dumps(make_record(run, commits[pos], value)))
    config = asv_config(tmp_path, tmp_path / "repo")
    parser = argparse.ArgumentParser()
    history_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["history", "--source", "history", "--history", str(tmp_path / "history"),
                              "--asv-config", str(config), "--metric", "etl.wall_s"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert f"{commits[3][:8]}..{commits[4][:8]}" in out and "regressed (in effect)" in out



def test_benchmarks_import_the_harness_of_a_commit_before_the_layers(tmp_path):
    """asv runs this checkout's benchmarks against older commits, whose harness kept every module
    directly under harness/ (harness/runner.py, harness/stages/etl.py). The old layout is built
    here; ``-S`` keeps this checkout's editable install out of the import path."""
    old = tmp_path / "old"
    for name, text in {"__init__.py": "", "runner.py": "", "summary.py": "STAGE_ORDER = ('imports',)\n",
                       "config.py": "def profile_names():\n    return ['smoke', 'nightly']\n",
                       "stages/__init__.py": "", "stages/etl.py": ""}.items():
        (old / "harness" / name).parent.mkdir(parents=True, exist_ok=True)
        (old / "harness" / name).write_text(text)
    code = ("import sys; from benchmarks import _shared; h = _shared.harness_module; "
            "print(h('run.runner').__file__, h('pipeline.stages.etl').__file__, h('output.summary').STAGE_ORDER[0])")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(old), str(ROOT)))}
    run = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(old / "harness" / "runner.py"), str(old / "harness" / "stages" / "etl.py"),
                                  "imports"]
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)  # the layers
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(ROOT / "harness" / "run" / "runner.py"),
                                  str(ROOT / "harness" / "pipeline" / "stages" / "etl.py"), "imports"]
