"""The differential profile of a check: one extra pair under a sampling profiler, after the judged pairs.

When the verdict has a time measurement regressed or undecided (harness/judge/profile_diff.py
``triggers``) and an in-session reference ran, the current code and the reference run once more, each
under ``py-spy record --idle --subprocesses`` (the py-spy beside this interpreter profiles both sides'
interpreters; ``--idle`` so a sleeping stage is seen too). The profiled pair is never judged: the
profiler's overhead must not bias the verdict. Its stacks are attributed to stages and diffed
(harness/judge/profile_diff.py), the raw stacks are kept beside the verdict for a flame graph, and the
result is the verdict's ``profile_diff`` (shape: harness/documents/verdict.py). Whatever goes wrong here
(no py-spy, a failed run) is said in its ``skipped`` and never fails the check.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from harness import REPO_DIR
from harness.documents import atomic
from harness.errors import HarnessError
from harness.judge import policy
from harness.judge import profile_diff as diffmod
from harness.pairing import reference as referencemod

FOLDER = "profile"  # beside the verdict: <verdict's folder>/profile/{current,reference}.folded
CHAIN = "harness/pipeline/chain.py"  # where a side's code calls its stages (call sites for old references)
SIDES = ("current", "reference")


def attach(verdict, config, arm, judged: dict, together: bool, out_dir: Path | None, policies_path=None,
           progress=None):
    """``verdict`` with its ``profile_diff``; unchanged when ``out_dir`` (the verdict's folder) is None (off).

    ``arm``: the reference arm that ran in the judged pairs (None: there was none); ``judged``: each side's
    merged record of the judged pairs; ``together``: the judged pairs ran their sides at once (the
    profiled pair then does too, so that its overhead is measured under the same load)."""
    if out_dir is None:
        return verdict
    doc = for_verdict(verdict, config, arm, judged, together, Path(out_dir), policies_path, progress)
    return dataclasses.replace(verdict, profile_diff=doc)


def for_verdict(verdict, config, arm, judged: dict, together: bool, out_dir: Path, policies_path=None,
                progress=None) -> dict | None:
    """The ``profile_diff`` of ``verdict``: None when no time measurement asks for one."""
    trigger = diffmod.triggers(verdict.measurements)
    if not trigger or verdict.overall == "failed":
        return None
    settings = policy.profile_settings(policies_path)
    doc: dict[str, object] = {"profiler": None, "rate_hz": settings.rate_hz, "trigger": trigger, "skipped": None,
                              "overhead_pct": {}, "stages": [], "folded": None}
    spy = py_spy()
    if arm is None or isinstance(spy, str):
        return {**doc, "skipped": "no in-session reference ran to profile against" if arm is None else spy}
    doc["profiler"] = _version(spy)
    if progress is not None:
        progress.note(f"time measurements moved ({', '.join(trigger)}): one more pair under py-spy, not judged")
    try:
        return {**doc, **_profiled(config, arm, judged, together, out_dir, spy, trigger, settings)}
    except (HarnessError, OSError) as exc:  # a profile is an aid: its failure never fails the check
        return {**doc, "skipped": f"the profiled pair failed: {exc}"}


def _profiled(config, arm, judged: dict, together: bool, out_dir: Path, spy: Path, trigger: list, settings) -> dict:
    """The profile's folded paths, overhead and stages from one profiled pair."""
    runs = profiled_pair(config, arm, spy, settings.rate_hz, together)
    overhead = diffmod.overhead_pct([(diffmod.stage_walls(runs[s]["record"]), diffmod.stage_walls(judged[s]))
                                     for s in SIDES if judged.get(s)])
    return {"folded": _keep(runs, out_dir), "overhead_pct": overhead, **_stages(runs, trigger, settings)}


def py_spy() -> Path | str:
    """The py-spy beside this interpreter, or why there is none."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.is_file():
        return f"py-spy is not installed beside {sys.executable} (pip install py-spy: the bench extra)"
    return spy


def _version(spy: Path) -> str:
    """py-spy's own name for itself ("py-spy 0.4.1")."""
    try:
        out = subprocess.run([str(spy), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "py-spy"
    return out.stdout.strip() or "py-spy"


def profiled_pair(config, arm, spy: Path, rate_hz: int, together: bool) -> dict:
    """{side: {"record", "folded", "code_dir"}} of one run of each side under py-spy (at once when
    ``together``, else the reference first); HarnessError when a side made no record or no stacks."""
    import tempfile

    sides = {"current": (referencemod.Reference("current", REPO_DIR), sys.executable,
                         referencemod.run_argv(config, faults=True)),
             "reference": (arm.code, arm.python, referencemod.run_argv(config))}
    timeout_s = referencemod.run_timeout_s(config)
    runs: dict = {}
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-profile-") as tmp:
        calls = [lambda s=s: runs.__setitem__(s, profiled_run(s, *sides[s], spy, rate_hz, Path(tmp), timeout_s))
                 for s in reversed(SIDES)]
        if together:
            from harness.pairing.together import at_once

            at_once(calls)
        else:
            for call in calls:
                call()
    return runs


def profiled_run(side: str, code, python: str, argv: list, spy: Path, rate_hz: int, tmp: Path,
                 timeout_s: float) -> dict:
    """One run of ``code`` (a reference.Reference) by ``python`` under py-spy, its files in ``tmp``:
    {"record", "folded" (the stacks' text), "code_dir"}; HarnessError without a good record or stacks."""
    folded = tmp / f"{side}.folded"
    wrap = (str(spy), "record", "--idle", "--subprocesses", "-r", str(rate_hz), "-f", "raw", "-o", str(folded), "--")
    rec = referencemod.run_once(code, argv, tmp, timeout_s, python, wrap=wrap)
    if rec["status"] != "ok":
        failure: Mapping[str, object] = rec.get("failure") or {}
        raise HarnessError(f"the {side} run failed in stage {failure.get('stage')!r} ({failure.get('message')})")
    if not folded.is_file() or not folded.stat().st_size:
        raise HarnessError(f"py-spy wrote no stacks for the {side} run")
    return {"record": rec, "folded": folded.read_text(), "code_dir": Path(code.code_dir)}


def _keep(runs: dict, out_dir: Path) -> dict:
    """Write each side's stacks to ``out_dir``/profile/; their paths relative to ``out_dir``."""
    paths = {}
    for side in SIDES:
        rel = f"{FOLDER}/{side}.folded"
        atomic.write_text(out_dir / rel, runs[side]["folded"])
        paths[side] = rel
    return paths


def _stages(runs: dict, trigger: list[str], settings) -> dict:
    """The ``stages`` of the profile, or ``skipped`` when a side's stacks name no stage."""
    sampled = {s: diffmod.by_stage(runs[s]["folded"], _call_sites(runs[s]["code_dir"])) for s in SIDES}
    empty = [s for s in SIDES if not sampled[s]]
    if empty:
        return {"skipped": f"the {empty[0]} run's stacks name no pipeline stage (no stage frame or call site "
                           f"of {CHAIN} in them)"}
    stages = diffmod.kept_stages(trigger, sampled["current"], sampled["reference"])
    return {"stages": diffmod.diff(sampled["current"], sampled["reference"], stages, settings.rate_hz,
                                   settings.top)}


def _call_sites(code_dir: Path) -> dict:
    """The stage call sites of a side's chain.py (for code from before the stage frames); {} without one."""
    path = code_dir / CHAIN
    try:
        return diffmod.call_sites(path.read_text(), CHAIN)
    except (OSError, SyntaxError):
        return {}
