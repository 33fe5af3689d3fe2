"""Judging against the right comparand: the code x environment arms, quality across hosts, the report.

Records come from tests/verdict_fixtures.py (seeded, realistic noise); no pipeline runs here
(tests/commands/test_refenv_e2e.py runs the real thing).
"""

from __future__ import annotations

import dataclasses

import pytest
from verdict_fixtures import environment, make_baseline, make_record

from harness.judge import attribution, compare
from harness.judge.decide import verdict_of

CHANGED = [("transformers4rec", "23.12.0", "23.12.0.post1")]
ROUNDS = 12


def _arms(ref: dict, cross: dict | None, changed=CHANGED) -> dict:
    return {"record": ref, "provenance": {"commit": "a" * 40, "runs": ref["repeat"], "paired": True,
                                          "environment": "a cached environment", "arms": 2 + (cross is not None)},
            "cross": cross, "changed": changed, "code_range": "aaaaaaa..bbbbbbb"}


def _by(verdict) -> dict:
    return {m.name: m for m in verdict.measurements}


@pytest.fixture(scope="module")
def stored():
    return make_baseline(seeds={"quality.ndcg_at_20": [0.16, 0.175, 0.155, 0.17]})


def _rounds(seed: int, slow=None, quality=None):
    return make_record(seed=seed, repeat=ROUNDS, noise=0.02, slow=slow, quality=quality)


def test_a_slower_environment_is_named_as_the_cause(stored):
    ref = _rounds(1)
    cross = _rounds(1, slow={"train": 1.3})  # baseline code, slower environment: same noise draws
    cur = _rounds(1, slow={"train": 1.3})
    v = compare.compare(cur, stored, reference=_arms(ref, cross))
    train = _by(v)["train.wall_s"]
    assert train.verdict == "regressed" and train.against == "reference"
    assert train.cause.startswith("environment: transformers4rec 23.12.0 -> 23.12.0.post1")
    assert "cause: environment" in train.reason


def test_a_slower_code_is_named_as_the_cause(stored):
    ref = _rounds(1)
    cross = _rounds(1)  # the environment changed nothing
    cur = _rounds(1, slow={"train": 1.3})
    train = _by(compare.compare(cur, stored, reference=_arms(ref, cross)))["train.wall_s"]
    assert train.verdict == "regressed" and train.cause.startswith("code: aaaaaaa..bbbbbbb")


def test_no_cross_arm_no_cause(stored):
    v = compare.compare(_rounds(1, slow={"train": 1.3}), stored, reference=_arms(_rounds(1), None, []))
    assert _by(v)["train.wall_s"].verdict == "regressed" and _by(v)["train.wall_s"].cause == ""


def test_effects_are_one_sided_in_the_worse_direction():
    base = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8]
    slower = [b * 1.3 for b in base]
    e = attribution.effect("environment", base, slower, higher_is_better=False, alpha=0.001, threshold_pct=5)
    assert e.clear and e.change_pct == pytest.approx(30.0)
    faster = attribution.effect("code", slower, base, higher_is_better=False, alpha=0.001, threshold_pct=5)
    assert not faster.clear and faster.worse_pct < 0
    rate = attribution.effect("code", base, slower, higher_is_better=True, alpha=0.001, threshold_pct=5)
    assert not rate.clear  # a higher rate is better


def test_cause_words():
    env = attribution.Effect("environment", 31.0, 1e-6, True, 31.0)
    code = attribution.Effect("code", 0.4, 0.4, False, 0.4)
    assert attribution.cause(code, env, "a..b", CHANGED).startswith("environment: transformers4rec")
    assert attribution.cause(env, code, "a..b", CHANGED).startswith("code and environment") is False
    both = attribution.cause(dataclasses.replace(code, clear=True), env, "a..b", CHANGED)
    assert both.startswith("code and environment: a..b")
    unclear = attribution.cause(code, dataclasses.replace(env, clear=False), "a..b", CHANGED)
    assert unclear.startswith("probably environment")
    many = [(f"p{i}", "1", "2") for i in range(7)]
    assert attribution.env_words(many).endswith("and 2 more")


# --- quality: exact against the in-session reference, seed spread against another host ----------

def _numerics(avx512: bool) -> dict:
    isa = ["avx2", "fma"] + (["avx512f", "avx512bw"] if avx512 else [])
    return {"cpu": {"vendor": "AuthenticAMD", "family": 25, "model": 17 if avx512 else 1, "stepping": 1,
                    "model_name": "AMD EPYC"},
            "isa": isa, "numpy": {"version": "1.26.4", "dispatch_disabled": None,
                                  "cpu_features": ["AVX2", "FMA3"] + (["AVX512_SKX"] if avx512 else [])},
            "torch": {"version": "2.13.0", "cpu_capability": "AVX512" if avx512 else "AVX2", "blas": {},
                      "onednn": "3.5", "threads": 1},
            "gpu": {}, "fingerprint": "f1" * 8 if avx512 else "e2" * 8}


def _env(avx512: bool) -> dict:
    n = _numerics(avx512)
    e = environment()
    e.update(numerics=n, numerics_fingerprint=n["fingerprint"])
    return e


def test_same_numbers_on_another_host_are_ok_within_the_seed_spread():
    stored = make_baseline(environment_=_env(True), seeds={"quality.ndcg_at_20": [0.1520, 0.185, 0.153, 0.0873]},
                           quality={"ndcg_at_20": 0.1520})
    cur = make_record(seed=3, repeat=2, environment_=_env(False), quality={"ndcg_at_20": 0.1558})
    m = _by(compare.compare(cur, stored))["quality.ndcg_at_20"]
    assert m.verdict == "ok" and m.against == "baseline"
    assert "host's numerics differ" in m.reason and "4-seed spread" in m.reason and "avx512" in m.reason


def test_same_host_numerics_keep_the_exact_rule():
    stored = make_baseline(environment_=_env(False), quality={"ndcg_at_20": 0.1520})
    cur = make_record(seed=3, repeat=2, environment_=_env(False), quality={"ndcg_at_20": 0.1558})
    m = _by(compare.compare(cur, stored))["quality.ndcg_at_20"]
    assert m.verdict == "improved" and "exact" in m.reason


def test_an_old_baseline_without_numerics_gets_the_tolerance_and_says_so():
    old = {k: v for k, v in environment().items() if k not in ("numerics", "numerics_fingerprint")}
    stored = make_baseline(seeds={"quality.ndcg_at_20": [0.1520, 0.185, 0.153, 0.0873]},
                           quality={"ndcg_at_20": 0.1520}, environment_=old)
    cur = make_record(seed=3, repeat=2, environment_=_env(False), quality={"ndcg_at_20": 0.1558})
    v = compare.compare(cur, stored)
    assert _by(v)["quality.ndcg_at_20"].verdict == "ok"
    assert "records no numerics fingerprint" in _by(v)["quality.ndcg_at_20"].reason


def test_against_the_in_session_reference_quality_is_exact_whatever_the_stored_host():
    stored = make_baseline(environment_=_env(True), seeds={"quality.ndcg_at_20": [0.1520, 0.185, 0.153, 0.0873]},
                           quality={"ndcg_at_20": 0.1520})
    ref = make_record(seed=4, repeat=ROUNDS, environment_=_env(False), quality={"ndcg_at_20": 0.1558})
    same = make_record(seed=5, repeat=ROUNDS, environment_=_env(False), quality={"ndcg_at_20": 0.1558})
    moved = make_record(seed=5, repeat=ROUNDS, environment_=_env(False), quality={"ndcg_at_20": 0.15581})
    ok = _by(compare.compare(same, stored, reference=_arms(ref, None, [])))["quality.ndcg_at_20"]
    assert ok.verdict == "ok" and ok.against == "reference" and "in-session reference" in ok.reason
    flagged = _by(compare.compare(moved, stored, reference=_arms(ref, None, [])))["quality.ndcg_at_20"]
    assert flagged.verdict == "improved" and "exact" in flagged.reason  # 1e-5 beyond 1e-6


def test_a_code_change_of_quality_is_caught_exactly_against_the_cross_arm(stored):
    ref = _rounds(1, quality={"ndcg_at_20": 0.1661})
    cross = _rounds(1, quality={"ndcg_at_20": 0.1670})  # the new environment moved it a little
    cur = _rounds(1, quality={"ndcg_at_20": 0.1690})  # and the code moved it more
    m = _by(compare.compare(cur, stored, reference=_arms(ref, cross)))["quality.ndcg_at_20"]
    assert m.verdict == "improved" and m.against == "cross" and m.cause.startswith("code:")
    same_code = _rounds(1, quality={"ndcg_at_20": 0.1670})
    m = _by(compare.compare(same_code, stored, reference=_arms(ref, cross)))["quality.ndcg_at_20"]
    assert m.verdict == "ok" and "environment differs (transformers4rec" in m.reason


# --- one judge ---------------------------------------------------------------------------------

def test_judge_reads_the_baseline_file_and_says_when_there_is_none(tmp_path, stored):
    import json

    run = _rounds(1)
    missing = verdict_of(run, tmp_path / "none.json")
    assert missing.overall == "missing" and missing.exit_code == 3
    path = tmp_path / "ci.json"
    path.write_text(json.dumps(stored))
    assert verdict_of(run, path).baseline_path == str(path)
    noted = verdict_of(run, path, why_no_reference="no in-session reference (--reference none)")
    assert any("--reference none" in n and "cross-session" in n for n in noted.notes)


# --- the report shows each row against its comparand -------------------------------------------

def test_report_time_rows_show_the_reference_and_keep_the_stored_value(stored):
    from harness.output.report import _data, render_html

    ref, cur = _rounds(1), _rounds(2, slow={"train": 1.3})
    cur["stages"] = [{"name": n} for n in ("imports", "etl", "train", "evaluate")]  # as a timeline lists them
    v = compare.compare(cur, stored, reference=_arms(ref, None, []))
    judged = {m.name: m for m in v.measurements}
    rows = {r["stage"]: r for r in _data.stage_rows(cur, stored["record"], judged)}
    train = rows["train"]["wall_s"]
    assert train["against"] == "reference"
    assert train["baseline"] == pytest.approx(judged["train.wall_s"].baseline)
    assert train["baseline"] != train["stored"] and train["stored"] == pytest.approx(
        {m["name"]: m for m in stored["record"]["measurements"]}["train.wall_s"]["value"])
    assert rows["train"]["peak_anon_bytes"]["against"] == "baseline"
    html = render_html([cur], verdict=v, baseline=stored)
    assert 'data-against="reference"' in html and "(ref)" in html


@pytest.mark.slow
def test_the_built_reference_environment_is_topped_up_with_what_it_lacks(tmp_path):
    """A commit's own install brings the pipeline; this environment also has the development tools.
    Those are layered in, so only what the commit or the baseline pins differently tells them apart."""
    import sys
    from pathlib import Path

    from harness.envs import build as envs
    from harness.measure import environment as envmod
    from harness.pairing import gate

    current = envmod.installed_distributions()
    lean = {k: v for k, v in current.items() if k != "tqdm"}  # a build without tqdm
    built = envs.Env(Path(sys.executable), "k" * 16, True, None, lean, "a cached environment")
    lines = []
    python, words, dists = gate._topped_up(built, tmp_path, lines.append)
    assert "with 1 distributions of this environment it lacks" in words and "tqdm" in lines[0]
    assert dists["tqdm"] == current["tqdm"] and Path(python) != Path(sys.executable)
    assert gate._diff(dists, current) == []
    same = envs.Env(Path(sys.executable), "k" * 16, True, None, current, "w")
    assert gate._topped_up(same, tmp_path / "x", lines.append) == (sys.executable, "w", current)


def _on_host(rec: dict, factors: list[float]) -> dict:
    """``rec`` as if each round ran on a host ``factors[i]`` times slower (times up, throughputs down)."""
    from harness.documents import record

    def scaled(m):
        if m["name"].endswith((".wall_s", ".cpu_s")):
            return record.measurement(m["name"], [s * f for s, f in zip(m["samples"], factors, strict=True)])
        if m["name"].endswith("_per_s"):
            return record.measurement(m["name"], [s / f for s, f in zip(m["samples"], factors, strict=True)])
        return m
    return {**rec, "measurements": [scaled(m) for m in rec["measurements"]]}


def test_a_round_in_two_pairs_attributes_within_each_pair(stored):
    """The current code ran beside the reference, the cross arm beside a second run of the reference (the
    partner) on a host whose speed swung between the pairs: the code's effect is read inside the pairs."""
    factors = [0.6, 1.6] * (ROUNDS // 2)
    ref, cur = _rounds(1), _rounds(1, slow={"train": 1.3})  # the code is 30% slower in train
    cross, partner = _on_host(_rounds(1), factors), _on_host(_rounds(1), factors)
    code, env = attribution.beside([2.0, 3.0], [1.0, 1.0], [4.0, 1.5]), attribution.beside([2.0], [1.0], None)
    assert code == ([0.5, 2.0], [4.0, 1.5]) and env == ([2.0], [1.0])
    split = {**_arms(ref, cross), "partner": partner}
    train = _by(compare.compare(cur, stored, reference=split))["train.wall_s"]
    assert train.verdict == "regressed" and train.cause.startswith("code: aaaaaaa..bbbbbbb (+30.0%")
    unsplit = _by(compare.compare(cur, stored, reference=_arms(ref, cross)))["train.wall_s"]
    assert not unsplit.cause.startswith("code: ")  # the swing between the pairs hides it without the partner
