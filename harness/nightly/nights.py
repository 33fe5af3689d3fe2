"""What ``t4rec-bench nightly --steps`` judges: the nights in asv's results of benchmarks/ratios.py, each
judged once (harness/documents/steps_ledger.py keeps the nights judged before). Runs nothing; the
command prints the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.documents import steps_ledger
from harness.nightly import pairs as nightly_pairs


@dataclass(frozen=True)
class JudgedNight:
    """One night (``commit`` against ``previous`` in ``context``) and the steps its ratios name."""

    context: str
    commit: str
    steps: tuple[nightly_pairs.Step, ...]
    before: bool  # judged by an earlier --steps: shown, not counted again


@dataclass(frozen=True)
class Judgement:
    totals: dict[str, list[nightly_pairs.Night]]  # per context, the total.wall_s ratio of each night
    nights: tuple[JudgedNight, ...]  # per context in order, each night once
    named: tuple[nightly_pairs.Step, ...]  # the regressions among the nights judged now
    judged_now: int
    judged_before: int  # nights in the ledger that asv's results still hold
    ledger_path: Path


def judge(results_dir: Path, repo: Path | None, machine: str | None, every: bool = False,
          ledger_path: Path | None = None) -> Judgement | None:
    """Judge the nights in ``results_dir`` (None when there are none). The nights judged now join the
    ledger; ``every``: judge the ledger's nights too, and leave the ledger as it is."""
    nights = nightly_pairs.asv_nights(results_dir, repo, machine)
    if not nights:
        return None
    ledger_path = ledger_path or steps_ledger.default_path(results_dir)
    ledger = steps_ledger.load(ledger_path)
    before = set() if every else steps_ledger.judged(ledger)
    judged = [_one(key, commit, [n for n in series if n.commit == commit], before)
              for key, series in nights.items() for commit in dict.fromkeys(n.commit for n in series)]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = [_ledger_row(j, nights[j.context], now) for j in judged if not j.before]
    if rows and not every:
        steps_ledger.add(ledger_path, ledger, rows)
    return Judgement(totals={key: [n for n in series if n.ratio.name == "total.wall_s"]
                             for key, series in nights.items()},
                     nights=tuple(judged),
                     named=tuple(s for j in judged if not j.before for s in j.steps if s.direction == "regressed"),
                     judged_now=len(rows),
                     judged_before=len(before & {(key, n.commit) for key, series in nights.items() for n in series}),
                     ledger_path=ledger_path)


def _one(context: str, commit: str, night: list[nightly_pairs.Night], before: set) -> JudgedNight:
    return JudgedNight(context, commit, tuple(nightly_pairs.steps(night, improvements=True)),
                       (context, commit) in before)


def _ledger_row(j: JudgedNight, series: list[nightly_pairs.Night], now: str) -> dict:
    previous = next(n.previous for n in series if n.commit == j.commit)
    return {"context": j.context, "commit": j.commit, "previous": previous, "judged_at": now,
            "steps": [s.line() for s in j.steps]}
