"""The runs behind ``t4rec-bench calibrate`` (harness/commands/calibrate.py, calibrate_gate.py): A/A
runs of the working tree, alone or alternating with a reference commit; pools of pairs in each
pairing mode, the modes taking turns in blocks; and real A/A checks through the gate. Records are
appended to the history folder as they come; the analysis (harness/judge/noise.py,
gate_calibration.py) reads them."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from harness.documents import record
from harness.errors import HarnessError
from harness.output.progress import Progress
from harness.pairing import reference

BLOCK = 2  # pairs per mode before the other mode takes its turn


def plain_runs(items) -> list[dict]:
    """The ok, fault-free run records in ``items`` (files, or folders of them: not reference/ below a
    history folder); HarnessError when they hold more than one workload."""
    paths = []
    for item in items:
        p = Path(item)
        paths.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    records = [record.load(p) for p in paths]
    records = [r for r in records if r["status"] == "ok" and not r["faults"]]
    hashes = {r["workload_hash"] for r in records}
    if len(hashes) > 1:
        raise HarnessError(f"--records hold {len(hashes)} different workloads; pass one profile's plain runs")
    return records


def _unchanged(config) -> None:
    if config.faults.active():
        raise HarnessError("calibrate measures unchanged (A/A) runs: remove the faults.* overrides")


def aa_runs(config, runs: int, history, quiet: bool) -> list[dict]:
    """``runs`` runs of ``config``, one at a time (the stored-baseline design)."""
    from harness.run import runner

    _unchanged(config)
    records = []
    for i in range(runs):
        if not quiet:
            print(f"A/A run {i + 1}/{runs}", flush=True)
        rec = runner.run(config, repeat=1, progress=Progress(enabled=not quiet))
        record.append_history(rec, history)
        if rec["status"] != "ok":
            raise HarnessError(f"A/A run {i + 1} failed: {rec['failure']['message']}")
        records.append(rec)
    return records


def aa_runs_with_reference(config, runs: int, rev: str, history, quiet: bool) -> tuple[list[dict], list[dict]]:
    """``runs`` runs of the working tree alternating with ``runs`` runs of ``rev``, as `check` makes them."""
    _unchanged(config)
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        ref = reference.checkout(rev, Path(tmp))
        current, arms, dropped = reference.interleaved(config, runs, ref, Progress(enabled=not quiet))
    refs = arms["reference"]
    for rec in current:
        record.append_history(rec, history)
    for rec in refs:
        record.append_history(rec, Path(history) / "reference")
    if dropped:
        raise HarnessError(dropped)
    failed = [r for r in current if r["status"] != "ok"]
    if failed:
        raise HarnessError(f"an A/A run failed: {failed[0]['failure']['message']}")
    return current, refs


def pair_pools(config, rev: str, modes: list[str], pairs: int, history: Path, quiet: bool,
               period_s: float | None = None) -> dict:
    """{mode: (current records, reference records, seconds per pair, host per pair)}: ``pairs`` pairs per
    mode with ``rev``; ``period_s``: the crossover mode's ([gate] crossover_period_s)."""
    _unchanged(config)
    out = {m: ([], [], [], []) for m in modes}
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        arms = [reference.Arm("reference", reference.checkout(rev, Path(tmp)), sys.executable)]
        done = 0
        while done < pairs:
            block = min(BLOCK, pairs - done)
            for mode in modes:
                _pool_block(config, arms, mode, block, out[mode], history, quiet, period_s)
            done += block
    return out


def _pool_block(config, arms, mode: str, block: int, pool: tuple, history: Path, quiet: bool,
                period_s: float | None) -> None:
    used, why = reference.pairing(config, 2, mode)
    if why:
        raise HarnessError(f"calibrate --mode {mode}: {why}")
    t0 = time.perf_counter()
    cur, refs, secs, hosts = pool
    current, by_arm, dropped = reference.interleaved(config, block, arms, Progress(enabled=not quiet), mode=used,
                                                     period_s=period_s, pairs_log=hosts)
    if dropped or any(r["status"] != "ok" for r in current):
        raise HarnessError(dropped or "an A/A run failed")
    cur += current
    refs += by_arm["reference"]
    secs.append((time.perf_counter() - t0) / block)
    for rec in current:
        record.append_history(rec, history / mode)
    for rec in by_arm["reference"]:
        record.append_history(rec, history / mode / "reference")


def real_checks(config, policies, k: int, baseline_path, policies_path, rev: str, quiet: bool,
                ledger: Path | None = None) -> list[dict]:
    """``k`` A/A checks through the gate (early stopping on, the policy's mode): ``check_row`` of each,
    with its two merged records (``record``, ``reference_record``); each row joins ``ledger`` (a
    real-checks ledger, harness/documents/real_checks.py) as its check ends."""
    from harness.documents import real_checks as ledger_doc
    from harness.pairing import gate

    out = []
    for i in range(k):
        if not quiet:
            print(f"real A/A check {i + 1}/{k}", flush=True)
        t0 = time.perf_counter()
        o = gate.run(config, policies.gate.repeat, baseline_path, policies_path, rev,
                     progress=Progress(enabled=False), reference_env="current")
        row = check_row(o, time.perf_counter() - t0, policies.gate.primary)
        if ledger is not None:
            ledger_doc.append(ledger, row)
        out.append({**row, "record": o.record, "reference_record": o.reference_record})
        if not quiet:
            print(f"  {row['overall']} after {row['pairs']} pairs ({row['stopped']}), {row['seconds']:.0f} s",
                  flush=True)
    return out


def check_row(o, seconds: float, primary: str, plant: str = "none", load: str = "none",
              overrides: dict | None = None, plant_kind: str | None = None) -> dict:
    """One line of the real-checks ledger for the gate's outcome ``o`` (harness/pairing/gate.py ``run``):
    when and where it ran, what was planted (STAGE=FRACTION or "none", and faults.slowdown_kind) and
    what loaded the host, the verdict and the primary's name and change, pairs, seconds, the primary's
    pair sd and every gated time's pairs ({name: [[reference, current], ...]})."""
    prov = o.verdict.reference_provenance
    total = next((m for m in o.verdict.measurements if m.name == primary), None)
    env = o.record["environment"]
    return {"date": o.record["started_at"], "profile": o.record["profile"], "cpu": env.get("cpu_model"),
            "commit": (env.get("git") or {}).get("commit"), "plant": plant,
            "plant_kind": None if plant == "none" else plant_kind, "set": dict(overrides or {}), "primary": primary,
            "total_change_pct": None if total is None else total.change_pct,
            "total_bounds_pct": None if total is None else [total.ci_low_pct, total.ci_high_pct],
            "total_power80_pct": None if total is None else total.min_detectable_pct,
            "load": load, "overall": o.verdict.overall, "exit_code": o.verdict.exit_code, "pairs": prov.get("runs"),
            "seconds": round(seconds, 1), "mode": prov.get("mode"),
            "sd_pct": pair_sd_pct(o.record, o.reference_record, primary) if o.reference_record else None,
            "regressed": [m.name for m in o.verdict.measurements if m.verdict == "regressed"],
            "undecided": [m.name for m in o.verdict.measurements if m.verdict == "undecided"],
            "host": prov.get("host"), "stopped": prov.get("stopped"), "launch": prov.get("launch"),
            "pairs_by_name": paired_samples(o.record, o.reference_record,
                                            [m.name for m in o.verdict.measurements if m.against == "reference"])}


def pair_sd_pct(rec: dict, ref: dict, name: str) -> float | None:
    """The sd of the pairs' log ratio of ``name`` (percent), from the two merged records."""
    import math
    import statistics

    a, b = record.by_name(rec).get(name), record.by_name(ref).get(name)
    if not a or not b or min(len(a["samples"]), len(b["samples"])) < 2:
        return None
    return 100 * statistics.stdev(math.log(x / y) for x, y in zip(a["samples"], b["samples"]))


def paired_samples(rec: dict, ref: dict | None, names: list[str]) -> dict:
    """{name: [[reference, current], ...]} of ``names`` from the two merged records."""
    if not ref:
        return {}
    cur, refs = record.by_name(rec), record.by_name(ref)
    return {n: [list(p) for p in zip(refs[n]["samples"], cur[n]["samples"])] for n in names if n in cur and n in refs}
