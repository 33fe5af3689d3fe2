"""`t4rec-bench calibrate` (harness/commands/calibrate.py): on recorded A/A runs, with the runner replaced
by recorded fixtures, and once end to end on the smoke profile (slow).

Records come from tests/verdict_fixtures.py (seeded, schema-valid, shaped like the runner's)."""

from __future__ import annotations

import json
import re

import pytest
from compare_support import GATE, REALISTIC, cli
from verdict_fixtures import make_record

from harness.documents import record
from harness.errors import HarnessError
from harness.judge import policy


def _aa_folder(tmp_path, n: int):
    folder = tmp_path / "aa"
    for s in range(n):
        record.write(make_record(seed=s, noise=REALISTIC, run_id=f"aa-{s}"), folder / f"{s}.json")
    return folder


def test_calibrate_command_on_recorded_runs(tmp_path, capsys):
    folder, out = _aa_folder(tmp_path, 12), tmp_path / "cal.json"
    assert cli(["calibrate", "--records", str(folder), "--baseline-size", "10", "--current-size", "1",
                "--comparisons", "20", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "t4rec-bench/calibration" and doc["aa"]["comparisons"] == 20
    text = capsys.readouterr().out
    assert "gate false-positive rate: 0/20" in text and "resampled splits (seed 0" in text
    limit = policy.load().for_measurement(policy.load().gate.primary, "time").max_mde_pct
    assert re.search(rf"(smallest configuration with|no configuration .* reaches) MDE <= {limit:g}%", text)
    for cur, base_ in ((1, 10), (1, 20), (5, 20), (10, 20)):
        assert re.search(rf"^ +{cur} +{base_} +\d+\.\d%", text, re.M)


def test_calibrate_defaults_to_the_gate_configuration_and_says_when_it_does_not_fit(tmp_path, capsys):
    folder, out = _aa_folder(tmp_path, 12), tmp_path / "cal.json"
    assert cli(["calibrate", "--records", str(folder), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["current_size"], doc["baseline_size"]) == (GATE.repeat, GATE.baseline_runs)
    assert doc["aa"] is None
    text = capsys.readouterr().out
    assert "false-positive rate not estimated" in text and "<- [gate] default" in text


def test_calibrate_needs_a_few_runs(tmp_path):
    with pytest.raises(HarnessError, match="at least 3"):
        cli(["calibrate", "--records", str(_aa_folder(tmp_path, 2)), "--baseline-size", "1", "--current-size", "1"])


def test_calibrate_runs_the_profile_as_many_times_as_the_configuration_needs(tmp_path, monkeypatch, fake_runner):
    monkeypatch.chdir(tmp_path)
    assert cli(["calibrate", "--profile", "ci", "--baseline-size", "3", "--current-size", "2", "--comparisons", "20",
                "--history", "hist", "--quiet", "--out", "cal.json"]) == 0
    assert [repeat for _, repeat in fake_runner] == [1] * 5
    assert len(list((tmp_path / "hist").glob("*.json"))) == 5
    assert json.loads((tmp_path / "cal.json").read_text())["aa"]["comparisons"] == 20


@pytest.mark.slow
def test_calibrate_mode_runs_pairs_and_a_real_check_on_the_smoke_profile(tmp_path, monkeypatch, capsys):
    """`calibrate --mode MODE --reference HEAD` end to end (harness/pairing/aa_runs.py), MODE the
    policy's: real pairs of the working tree and HEAD, one real A/A check through the gate (whose pairs
    join the pool of its mode), the analysis, the file."""
    import json
    import re
    from importlib import resources

    from compare_support import cli

    from harness.config import build_config
    from harness.judge import policy
    from harness.pairing import reference

    monkeypatch.chdir(tmp_path)
    text = resources.files("harness").joinpath("policies.toml").read_text()
    short = re.sub(r"(?m)^repeat = \d+$", "repeat = 3", text, count=1)  # [gate]: a real check of 3 pairs at most
    assert short != text
    (tmp_path / "policies.toml").write_text(short)
    mode, _ = reference.pairing(build_config("smoke", {"device": "cpu"}), 2, policy.load(None).gate.mode)
    code = cli(["calibrate", "--profile", "smoke", "--reference", "HEAD", "--mode", mode, "--runs", "2",
                "--checks", "1", "--comparisons", "10", "--history", "hist", "--quiet", "--out", "cal.json",
                "--policies", "policies.toml"])
    assert code == 0
    doc = json.loads((tmp_path / "cal.json").read_text())
    seq = doc["sequential"]
    assert list(seq["modes"]) == [mode] and seq["modes"][mode]["pairs"] >= 3  # the check's pairs join the pool
    assert len(seq["checks"]) == 1 and seq["checks"][0]["mode"] == mode
    assert seq["modes"][mode]["host"]["pairs"] == 2  # what else used the host, per calibration pair
    assert len(list((tmp_path / "hist" / mode).glob("*.json"))) == 2
    assert len(list((tmp_path / "hist" / mode / "reference").glob("*.json"))) == 2
    out = capsys.readouterr().out
    assert f"{mode}: " in out and "real A/A checks: 1" in out and "wrote cal.json" in out
    # the real check joined the machine's ledger, and the calibration reports the ledger and the rule's
    # false positives at 1-4x the measured noise
    (ledger,) = (tmp_path / "baselines").glob("*/real-checks.jsonl")
    (row,) = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert row["profile"] == "smoke" and row["plant"] == "none" and row["pairs"] == seq["checks"][0]["pairs"]
    assert "total.wall_s" in row["pairs_by_name"]
    assert seq["ledger"]["groups"][0]["checks"] == 1
    assert f"real checks through the gate in {ledger.relative_to(tmp_path)}" in out
    assert "A/A: 1 checks on 1 day(s)" in out
    assert {r["scale"] for r in seq["modes"][mode]["robustness"]} == {1, 2, 4}
    assert "false positives of the rule as coded when nothing changed" in out


def test_calibrate_mode_takes_a_list_of_pairing_modes():
    from harness.pairing.aa_runs import CalibrateOptions

    def modes(text):
        return CalibrateOptions(mode=text, reference="HEAD").modes

    assert modes("crossover,duet,pinned") == ("crossover", "duet", "pinned")
    assert modes("both") == ("duet", "alternating")
    for bad in ("crossover,bogus", "duet,duet", ","):
        with pytest.raises(HarnessError, match=rf"^--mode {bad!r}: expected distinct modes"):
            modes(bad)


def test_calibrate_options_are_checked_in_one_place_and_name_the_option():
    from harness.pairing.aa_runs import CalibrateOptions

    for given, message in (({"reference_records": ("r",)}, "--reference-records needs --records"),
                           ({"mode": "duet"}, "--mode needs --reference REV"),
                           ({"mode": "duet", "records": ("a",)}, "--mode with --records needs --reference-records"),
                           ({"plant": "train=lots"}, "--plant train=lots: expected STAGE=FRACTION"),
                           ({"checks": -1}, "--checks -1: 0 or more"),
                           ({"splits": "sorted"}, "--splits 'sorted': one of random, ordered")):
        with pytest.raises(HarnessError, match="^" + re.escape(message)):
            CalibrateOptions(**given)
    assert CalibrateOptions().planted == ("train", 0.25) and CalibrateOptions(plant="").planted is None


def test_calibrate_mode_on_recorded_pools_writes_the_sequential_document(tmp_path, monkeypatch, capsys):
    """`calibrate --mode MODE --records A --reference-records B`: nothing runs; the pools' sequential
    calibration (harness/pairing/aa_runs.py gate_calibration) is written under its default name."""
    import json

    from compare_support import cli

    monkeypatch.chdir(tmp_path)
    for side, offset in (("cur", 0), ("ref", 100)):
        for s in range(6):
            record.write(make_record(seed=s + offset, run_id=f"{side}-{s}"), tmp_path / side / f"{s}.json")
    assert cli(["calibrate", "--mode", "duet", "--records", "cur", "--reference-records", "ref",
                "--comparisons", "5"]) == 0
    (out,) = (tmp_path / "reports").glob("calibration-sequential-ci-*.json")
    seq = json.loads(out.read_text())["sequential"]
    assert list(seq["modes"]) == ["recorded"] and seq["modes"]["recorded"]["pairs"] == 6
    assert seq["checks"] == [] and "ledger" not in seq and seq["modes"]["recorded"]["planted"]["stage"] == "train"
    text = capsys.readouterr().out
    assert "recorded: 6 pairs" in text and f"wrote {out.relative_to(tmp_path)}" in text
