"""The runs behind ``t4rec-bench calibrate`` (harness/commands/calibrate.py, calibrate_gate.py): A/A
runs of the working tree, alone or alternating with a reference commit; pools of pairs in each
pairing mode, the modes taking turns in blocks; and real A/A checks through the gate. Records are
appended to the history folder as they come; the analysis (harness/judge/calibration.py,
gate_calibration.py) reads them."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from harness.documents import record
from harness.errors import HarnessError
from harness.output.progress import Progress
from harness.run import reference

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


def real_checks(config, policies, k: int, baseline_path, policies_path, rev: str, quiet: bool) -> list[dict]:
    """``k`` A/A checks through the gate (early stopping on, the policy's mode): verdict, pairs, time."""
    from harness.run import gate

    out = []
    for i in range(k):
        if not quiet:
            print(f"real A/A check {i + 1}/{k}", flush=True)
        t0 = time.perf_counter()
        o = gate.run(config, policies.gate.repeat, baseline_path, policies_path, rev,
                     progress=Progress(enabled=False), reference_env="current")
        prov = o.verdict.reference_provenance
        out.append({"overall": o.verdict.overall, "exit_code": o.verdict.exit_code, "pairs": prov.get("runs"),
                    "mode": prov.get("mode"), "stopped": prov.get("stopped"), "seconds": time.perf_counter() - t0,
                    "regressed": [m.name for m in o.verdict.measurements if m.verdict == "regressed"],
                    "record": o.record, "reference_record": o.reference_record})
        if not quiet:
            r = out[-1]
            print(f"  {r['overall']} after {r['pairs']} pairs ({r['stopped']}), {r['seconds']:.0f} s", flush=True)
    return out
