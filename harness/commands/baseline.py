"""`t4rec-bench baseline record|show`: record a baseline for a profile on this machine class, or show one.

`record` refuses a dirty git tree, the smoke profile and fewer than 5 repetitions unless
--force; a run with injected faults or a failed run never becomes a baseline. The replaced
baseline is copied into baselines/<machine>/history/ first, and the difference is printed.
"""

from __future__ import annotations

from harness.documents.record_types import RunRecord


def add_parser(subparsers):
    from harness.commands import _common
    from harness.documents.baseline import MIN_RUNS

    p = subparsers.add_parser("baseline", help="record or show a baseline",
                              description="Record or show baselines/<machine>/<profile>.json.")
    sub = p.add_subparsers(dest="baseline_command", metavar="{record,show}", required=True)
    rec = sub.add_parser("record", help="run a profile N times and store it as the baseline")
    _common.add_workload_options(rec)
    rec.add_argument("--repeat", type=_common.positive_int, metavar="N",
                     help=f"repetitions pooled into the baseline (default: [gate] baseline_runs of "
                          f"harness/policies.toml; at least {MIN_RUNS} without --force)")
    rec.add_argument("--seeds", type=int, default=0, metavar="K",
                     help="also run K other seeds once each and keep the metrics' spread (tolerances "
                          "for comparisons across environments)")
    rec.add_argument("--force", action="store_true",
                     help="record despite a dirty tree, the smoke profile, too few repetitions or an "
                          "unreadable old baseline (never with injected faults)")
    _options(rec)
    rec.add_argument("--quiet", action="store_true", help="no progress output")
    rec.set_defaults(func=main_record)
    show = sub.add_parser("show", help="print a baseline's provenance and the noise of each measurement")
    show.add_argument("--profile", default="ci", help="profile (default: ci)")
    _options(show)
    show.set_defaults(func=main_show)
    return p


def _options(p) -> None:
    p.add_argument("--machine", metavar="NAME", help="machine class (default: this machine's)")
    p.add_argument("--baseline", metavar="PATH", help="baseline file (default: baselines/<machine>/<profile>.json)")


def _path(args, machine: str | None = None):
    from pathlib import Path

    from harness.documents import baseline

    return Path(args.baseline) if args.baseline else baseline.default_path(args.profile, args.machine or machine)


def _repo_git() -> dict:
    import harness
    from harness.measure import environment as env

    return env.git_state(str(harness.REPO_DIR))


def main_record(args) -> int:
    from harness.commands import _common
    from harness.commands.check import run_config
    from harness.documents import baseline
    from harness.judge import policy

    args.repeat = args.repeat or policy.load().gate.baseline_runs
    config, git = _common.config_from_args(args), _repo_git()
    planned = {"status": "ok", "faults": config.faults.active(), "profile": config.profile,
               "repeat": args.repeat, "environment": {"git": git}}
    baseline.ensure_recordable(planned, args.force, git)  # before spending minutes on runs
    rec = run_config(config, args.repeat, args.quiet)
    baseline.ensure_recordable(rec, args.force, git)
    spread = _seed_spread(args, config, rec) if args.seeds > 0 else None
    doc = baseline.build(rec, seed_spread=spread)
    path = _path(args, rec["environment"]["machine_class"])
    old, kept = baseline.save(doc, path, args.force)
    prov = doc["provenance"]
    print(f"wrote {path}: {prov['runs']} runs at commit {str(prov['commit'])[:10]}"
          + (f", metrics over {len(spread['seeds'])} seeds" if spread else ""))
    if kept:
        print(f"the replaced baseline is kept at {kept}")
    if old:
        print(describe_change(old, doc), end="")
    return 0


def _seed_spread(args, config, rec: RunRecord) -> dict:
    """Run K more seeds once each (harness/run/sweep.py); the metrics' values per seed (the main run's included)."""
    from harness.documents import baseline
    from harness.run import sweep

    return baseline.seed_spread({config.seed: rec, **sweep.seed_runs(config, args.seeds, args.quiet)})


def main_show(args) -> int:
    from harness.documents import baseline
    from harness.judge import stats

    path = _path(args)
    doc = baseline.load(path)
    prov = doc["provenance"]
    print(f"{path}: profile {doc['profile']}, machine {doc['machine']}, format {doc['format_version']}")
    for key in ("date", "commit", "dirty", "env_fingerprint", "command", "runs"):
        print(f"  {key}: {prov.get(key)}")
    spread = doc.get("seed_spread") or {}
    print(f"  seeds: {spread.get('seeds') or 'none (metrics compared exactly, or with the fallback tolerance)'}")
    print(f"\n{'measurement':32} {'unit':9} {'n':>3} {'median':>14} {'MAD':>12} {'CV':>7}")
    for m in doc["record"]["measurements"]:
        s = stats.summary(m["samples"])
        cv = "-" if s.cv is None else f"{100 * s.cv:.2f}%"
        print(f"{m['name']:32} {m['unit']:9} {s.n:>3} {s.median:>14.6g} {s.mad:>12.4g} {cv:>7}")
    return 0


def describe_change(old: dict, new: dict) -> str:
    """What changed from the replaced baseline: provenance lines, then the verdict table."""
    from harness.judge.compare import compare
    from harness.output import formatters

    po, pn = old["provenance"], new["provenance"]
    lines = [f"replaced baseline from {po.get('date')} (commit {str(po.get('commit'))[:10]}, {po.get('runs')} runs)"]
    for key in ("commit", "env_fingerprint", "runs", "command"):
        if po.get(key) != pn.get(key):
            lines.append(f"  {key}: {po.get(key)!r} -> {pn.get(key)!r}")
    verdict = compare(new["record"], old, baseline_path="(replaced baseline)")
    return "\n".join(lines) + "\n\nnew baseline against the replaced one:\n" + formatters.table(verdict)
