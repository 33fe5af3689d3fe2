"""`t4rec-bench sweep` (harness/commands/sweep.py), the runner replaced by records of known power laws
(tests/sweep_fixtures.py)."""

from __future__ import annotations

from sweep_fixtures import fake_record

from harness.documents import sweep as sweep_file


def test_sweep_command_prints_exponents_and_writes_a_versioned_file(tmp_path, monkeypatch, capsys):
    from harness import cli
    from harness.run import runner

    monkeypatch.setattr(runner, "run", fake_record)
    out = tmp_path / "s.json"
    code = cli.main(["sweep", "--profile", "smoke", "--rows", "1e3,1e4,1e5", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0 and "growth exponent" in printed and "etl" in printed
    doc = sweep_file.load(out)
    assert doc["format_version"] == sweep_file.FORMAT.current and doc["profile"] == "smoke"
    assert doc["kind"] == sweep_file.KIND
    assert len(list((tmp_path / "s").glob("*.json"))) == 3
    again = tmp_path / "again.json"
    assert cli.main(["sweep", "--from-records", *map(str, (tmp_path / "s").glob("*.json")), "--out", str(again)]) == 0
    assert sweep_file.load(again)["fits"] == doc["fits"]
