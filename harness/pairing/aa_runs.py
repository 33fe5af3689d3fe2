"""The runs behind ``t4rec-bench calibrate`` (harness/commands/calibrate.py, calibrate_gate.py): its
options (``CalibrateOptions``); A/A runs of the working tree, alone or alternating with a reference
commit; pools of pairs in each pairing mode, the modes taking turns in blocks; real A/A checks through
the gate; and the calibration document of each design (``noise_calibration``, ``gate_calibration``).
Records are appended to the history folder as they come; the analysis (harness/judge/noise.py,
gate_errors.py) reads them."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import clock
from harness.documents import calibration, record
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError
from harness.judge.policy import MODES
from harness.output.progress import Progress
from harness.pairing import reference

BLOCK = 2  # pairs per mode before the other mode takes its turn
SPLITS = ("random", "ordered")


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class CalibrateOptions:
    """The options of one ``t4rec-bench calibrate`` besides the workload, built once from its command line
    (harness/commands/calibrate.py, whose --help shows each field's help) and checked here, in one place."""

    runs: int | None = _opt(None, "A/A runs to make (default: [gate] baseline_runs + repeat of the policy, the "
                                  "fewest that hold the gate configuration; with --mode: pairs per mode, default "
                                  "[gate] repeat)")
    records: tuple[str, ...] = _opt((), "analyse these run records (files or folders) instead of running the "
                                        "profile")
    reference: str | None = _opt(None, "calibrate the in-session design of `check`: alternate the K runs with K "
                                       "runs of this git commit (HEAD: an A/A pair of pools) and judge current "
                                       "groups against reference groups (sizes: --current-size and "
                                       "--baseline-size, default [gate] repeat each)")
    reference_records: tuple[str, ...] = _opt((), "with --records: the reference pool's run records (files or "
                                                  "folders)")
    baseline_size: int | None = _opt(None, "runs per baseline in each comparison (default: [gate] baseline_runs "
                                           "of the policy)")
    current_size: int | None = _opt(None, "runs per current group (default: [gate] repeat of the policy, as "
                                          "`check`)")
    comparisons: int = _opt(100, "A/A comparisons (default %(default)s)")
    split_seed: int = _opt(0, "seed of the A/A split draws (default 0)")
    splits: str = _opt("random", "random: disjoint or resampled random partitions (default); ordered: in time "
                                 "order, a baseline of consecutive runs against the runs right after it (shows "
                                 "drift)")
    mode: str | None = _opt(None, "calibrate the sequential gate (with --reference, or --records and "
                                  "--reference-records): pairs in each of these modes (" + ", ".join(MODES) +
                                  "; several take turns in blocks of two pairs; both = duet,alternating), then "
                                  "the family-wise A/A rate with early stopping over --comparisons simulated "
                                  "checks (harness/commands/calibrate_gate.py)")
    checks: int = _opt(0, "with --mode: also run K real A/A checks through the gate (default 0)")
    plant: str = _opt("train=0.25", "with --mode: simulate faults.slowdown of STAGE by FRACTION on the pairs "
                                    "(default %(default)s)")
    policies: str | None = _opt(None, "policy file (default: harness/policies.toml)")
    history: str = _opt("reports/history", "history folder for the new run records (default: %(default)s)")
    ledger: str | None = _opt(None, "with --mode: the real-checks ledger that --checks appends to and whose "
                                    "checks the calibration reports (default: baselines/<machine class>/"
                                    "real-checks.jsonl)")
    out: str | None = _opt(None, "calibration JSON (default: reports/calibration-...json)")
    quiet: bool = _opt(False, "no progress output")

    def __post_init__(self):
        for bad, message in self._problems():
            if bad:
                raise HarnessError(message)

    def _problems(self) -> list[tuple[bool, str]]:
        modes = self.modes
        return [
            (self.splits not in SPLITS, f"--splits {self.splits!r}: one of {', '.join(SPLITS)}"),
            (self.checks < 0, f"--checks {self.checks}: 0 or more"),
            (bool(self.reference_records) and not self.records,
             "--reference-records needs --records (the current pool)"),
            (self.mode is not None and (not modes or len(set(modes)) != len(modes) or not set(modes) <= set(MODES)),
             f"--mode {self.mode!r}: expected distinct modes among {', '.join(MODES)} (or both)"),
            (bool(modes) and bool(self.records) and not self.reference_records,
             "--mode with --records needs --reference-records (the reference pool)"),
            (bool(modes) and not self.records and not self.reference,
             "--mode needs --reference REV (HEAD for A/A) or --records with --reference-records"),
            (not _is_plant(self.plant), f"--plant {self.plant}: expected STAGE=FRACTION, e.g. train=0.25")]

    @property
    def modes(self) -> tuple[str, ...]:
        """--mode's pairing modes, in order (``both``: duet, alternating); () without --mode."""
        if self.mode == "both":
            return ("duet", "alternating")
        return tuple(m.strip() for m in (self.mode or "").split(",") if m.strip())

    @property
    def planted(self) -> tuple[str, float] | None:
        """--plant as (stage, fraction); None when it names no stage."""
        return _plant(self.plant)


def _plant(text: str) -> tuple[str, float] | None:
    stage, _, fraction = text.partition("=")
    return (stage, float(fraction)) if stage else None


def _is_plant(text: str) -> bool:
    try:
        _plant(text)
    except ValueError:
        return False
    return True


def plain_runs(items) -> list[RunRecord]:
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


def aa_runs(config, runs: int, history, quiet: bool) -> list[RunRecord]:
    """``runs`` runs of ``config``, one at a time (the stored-baseline design)."""
    from harness.run import runner

    _unchanged(config)
    records: list[RunRecord] = []
    for i in range(runs):
        if not quiet:
            print(f"A/A run {i + 1}/{runs}", flush=True)
        rec = runner.run(config, repeat=1, progress=Progress(enabled=not quiet))
        record.append_history(rec, history)
        if (failure := rec["failure"]) is not None:  # a record's status is "failed" exactly when it has one
            raise HarnessError(f"A/A run {i + 1} failed: {failure['message']}")
        records.append(rec)
    return records


def aa_runs_with_reference(config, runs: int, rev: str, history, quiet: bool
                           ) -> tuple[list[RunRecord], list[RunRecord]]:
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
    failures = [r["failure"] for r in current if r["failure"] is not None]  # the records whose status is "failed"
    if failures:
        raise HarnessError(f"an A/A run failed: {failures[0]['message']}")
    return current, refs


def pair_pools(config, rev: str, modes: list[str], pairs: int, history: Path, quiet: bool,
               period_s: float | None = None) -> dict:
    """{mode: (current records, reference records, seconds per pair, host per pair)}: ``pairs`` pairs per
    mode with ``rev``; ``period_s``: the crossover mode's ([gate] crossover_period_s)."""
    _unchanged(config)
    out: dict[str, tuple[list[RunRecord], list[RunRecord], list[float], list[dict]]] = {
        m: ([], [], [], []) for m in modes}
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
    when and where it ran (the CPU model and the kernel, ``os``), what was planted (STAGE=FRACTION or
    "none", and faults.slowdown_kind) and what loaded the host, the verdict and the primary's name and
    change, pairs, seconds, the primary's pair sd and every gated time's pairs ({name: [[reference,
    current], ...]})."""
    prov = o.verdict.reference_provenance
    total = next((m for m in o.verdict.measurements if m.name == primary), None)
    env = o.record["environment"]
    return {"date": o.record["started_at"], "profile": o.record["profile"], "cpu": env.get("cpu_model"),
            "os": env.get("os"), "commit": (env.get("git") or {}).get("commit"), "plant": plant,
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


def pair_sd_pct(rec: RunRecord, ref: RunRecord, name: str) -> float | None:
    """The sd of the pairs' log ratio of ``name`` (percent), from the two merged records."""
    import math
    import statistics

    a, b = record.by_name(rec).get(name), record.by_name(ref).get(name)
    if not a or not b or min(len(a["samples"]), len(b["samples"])) < 2:
        return None
    # not strict: the sides' sample counts can differ (a failed run, a measurement only some runs have)
    return 100 * statistics.stdev(math.log(x / y) for x, y in zip(a["samples"], b["samples"], strict=False))


def paired_samples(rec: RunRecord, ref: RunRecord | None, names: list[str]) -> dict:
    """{name: [[reference, current], ...]} of ``names`` from the two merged records."""
    if not ref:
        return {}
    cur, refs = record.by_name(rec), record.by_name(ref)
    return {n: [list(p) for p in zip(refs[n]["samples"], cur[n]["samples"], strict=False)]  # as pair_sd_pct
            for n in names if n in cur and n in refs}


# ---- the calibration documents ---------------------------------------------------------------------

def noise_calibration(config, o: CalibrateOptions, policies) -> dict:
    """The calibration document of A/A runs (harness/documents/calibration.py; the analysis is
    harness/judge/noise.py's): of ``o.records``, else of runs of ``config`` made now, alone or alternating
    with ``o.reference`` (then current groups are judged against reference groups)."""
    from harness.judge.noise import analyse

    records, refs = _noise_pools(config, o, policies)
    if len(records) < 3:
        raise HarnessError(f"{len(records)} usable A/A run(s): need at least 3 to measure noise")
    gate = policies.gate
    n_base = o.baseline_size or (gate.repeat if refs is not None else gate.baseline_runs)  # in-session: repeat each
    result = analyse(records, n_base, o.current_size or gate.repeat, policies, o.comparisons, o.split_seed,
                     o.splits == "ordered", reference=refs)
    return calibration.build(records[0]["profile"], records[0]["environment"]["machine_class"], clock.now(),
                             policies.source, {"run_ids": [r["run_id"] for r in records], **result})


def _noise_pools(config, o: CalibrateOptions, policies) -> tuple[list[RunRecord], list[RunRecord] | None]:
    gate = policies.gate
    if o.records:
        return plain_runs(o.records), (plain_runs(o.reference_records) if o.reference_records else None)
    if o.reference:
        return aa_runs_with_reference(config, o.runs or 3 * gate.repeat, o.reference, o.history, o.quiet)
    runs = o.runs or (o.baseline_size or gate.baseline_runs) + (o.current_size or gate.repeat)
    return aa_runs(config, runs, o.history, o.quiet), None


def gate_calibration(config, o: CalibrateOptions, policies) -> dict:
    """The sequential gate's calibration document (harness/judge/gate_errors.py's analysis): of the pools
    of ``o.records`` and ``o.reference_records``, else of pairs of ``config`` with ``o.reference`` made now
    in each of ``o.modes``, with ``o.checks`` real A/A checks (their pairs join their mode's pool); and the
    real checks of the ledger."""
    from harness.documents import baseline
    from harness.documents import real_checks as ledger_doc
    from harness.judge import decide, gate_errors

    pools, seconds, hosts, checks = _gate_pools(config, o, policies)
    first = next(iter(pools.values()))[0]
    profile, machine = first["profile"], first["environment"]["machine_class"]
    path = baseline.default_path(profile, machine)
    ledger = _ledger(o, machine)
    rows = [r for r in ledger_doc.load(ledger) if r.get("profile") == profile]
    summary = gate_errors.ledger_summary(rows, policies.gate.primary) if rows else None
    doc = gate_errors.analyse(pools, policies, decide.load_baseline(path), path, o.policies, o.comparisons,
                              o.split_seed, o.planted, seconds,
                              ar_host=summary["ar_upper95"] if summary else None)
    doc = gate_errors.with_checks(doc, hosts, checks, summary, ledger)
    return calibration.build(profile, machine, clock.now(), policies.source, {"sequential": doc})


def _ledger(o: CalibrateOptions, machine: str) -> Path:
    from harness.documents import real_checks as ledger_doc

    return Path(o.ledger) if o.ledger else ledger_doc.default_path(machine)


def _gate_pools(config, o: CalibrateOptions, policies) -> tuple[dict, dict, dict, list[dict]]:
    """({mode: (current merged, reference merged)}, {mode: seconds per pair}, {mode: host summary}, the
    real checks' rows)."""
    from harness.documents import baseline
    from harness.judge.gate_errors import pooled
    from harness.measure import host
    from harness.run import runner

    if o.records:
        return {"recorded": (pooled(plain_runs(o.records)), pooled(plain_runs(o.reference_records)))}, {}, {}, []
    gate, rev = policies.gate, o.reference
    assert rev is not None  # CalibrateOptions: --mode without --records needs --reference
    raw = pair_pools(config, rev, list(o.modes), o.runs or gate.repeat, Path(o.history), o.quiet,
                     gate.crossover_period_s)
    machine = runner.machine_class(config)
    checks = real_checks(config, policies, o.checks, baseline.default_path(config.profile, machine), o.policies,
                         rev, o.quiet, ledger=_ledger(o, machine))
    for c in checks:
        cur, refs, _, _ = raw.setdefault(c["mode"], ([], [], [], []))
        cur.append(c["record"])
        refs.append(c["reference_record"])
    return ({m: (pooled(cur), pooled(refs)) for m, (cur, refs, _, _) in raw.items()},
            {m: sum(s) / len(s) for m, (_, _, s, _) in raw.items() if s},
            {m: host.summary(h) for m, (_, _, _, h) in raw.items() if h}, checks)
