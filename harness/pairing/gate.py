"""One check: run the current code (with the in-session reference, when there is one) and judge it.

Shared by `t4rec-bench check` and the pytest gate (tests/pairing/test_gate.py), so both give the same
verdict for the same tree. Order of work: read the policy and the stored baseline first (a
corrupt baseline is exit 2 before any run), extract the reference commit, run, judge.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import RunConfig
from harness.documents import record as recordmod
from harness.documents.record_types import RunRecord
from harness.errors import HarnessError
from harness.judge import policy as policymod
from harness.judge.verdict import Verdict
from harness.output.progress import Progress
from harness.pairing import profile as profilemod
from harness.pairing import reference as referencemod
from harness.pairing import together

AUTO, NONE = "auto", "none"


@dataclass(frozen=True)
class Outcome:
    record: RunRecord  # the current code's merged run record
    verdict: Verdict
    reference_record: RunRecord | None  # the reference's merged run record, if one ran to the end
    cross_record: RunRecord | None = None  # the cross arm's (baseline code, current environment), if it ran
    partner_record: RunRecord | None = None  # the reference's runs beside the cross arm (a round in two pairs)


def reference_rev(choice: str, stored: dict | None) -> tuple[str | None, str | None]:
    """(revision to re-run or None, why there is none): ``auto`` means the stored baseline's commit."""
    if choice == NONE:
        return None, "no in-session reference (--reference none)"
    if choice != AUTO:
        return choice, None
    commit = ((stored or {}).get("provenance") or {}).get("commit")
    if not commit:
        return None, "no in-session reference: the stored baseline names no commit"
    return commit, None


def run(config, repeat: int, baseline_path: Path, policies_path=None, reference: str = AUTO,
        progress=None, command: str | None = None, reference_env: str = AUTO, mode: str | None = None,
        sequential: bool = True, profile_to: Path | None = None) -> Outcome:
    """Run ``config`` in up to ``repeat`` pairs with the reference arms and judge the result.

    ``reference_env``: auto (the baseline's environment: this one when the installed
    distributions match the baseline's, else built from the commit's install files by
    harness.envs.build), current (this environment), or the path of an interpreter to use.
    ``mode``: how the pairs run (harness/judge/policy.py MODES; default: the policy's [gate] mode).
    ``sequential``: look after every pair and stop once the verdict is decided (harness/judge/sequential.py),
    going past ``repeat`` up to [gate] max_pairs while an undecided measurement could still be decided;
    False runs ``repeat`` pairs and judges them once.
    ``profile_to``: the verdict's folder; when given, a time regression (or an undecided time) gets one more
    pair under py-spy, not judged, and its differential profile (harness/pairing/profile.py); None: none.
    """
    from harness.judge import decide
    from harness.run import runner

    gate_policy = policymod.load(policies_path).gate  # a bad policy file is exit 2 before any run
    if reference_env not in (AUTO, "current") and not Path(reference_env).is_file():
        raise HarnessError(f"--reference-env {reference_env}: no such interpreter (auto, current or a python path)")
    stored = decide.load_baseline(baseline_path)
    rev, why_not = reference_rev(reference, stored)
    in_session, cross_rec, arm, used = None, None, None, None
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-ref-") as tmp:
        ref, why_not = _checkout(rev, Path(tmp), reference, why_not)
        if ref is None:
            rec = runner.run(config, repeat=repeat, progress=progress, command=command)
        else:
            paired = _Paired(config, ref, stored, baseline_path, policies_path, gate_policy, progress, command)
            rec, in_session, dropped, arm, used = paired.run(Path(tmp), repeat, reference_env, mode, sequential)
            if dropped:
                why_not = f"the in-session reference was dropped: {dropped}"
            cross_rec = (in_session or {}).get("cross")
        verdict = decide.verdict_of(rec, baseline_path, policies_path, stored=stored, in_session=in_session,
                                 why_no_reference=why_not)
        judged = {"current": rec, "reference": (in_session or {}).get("record")}
        verdict = profilemod.attach(verdict, config, arm, judged, used in referencemod.TOGETHER, profile_to,
                                    policies_path, progress)
    if verdict.overall == "undecided":
        import dataclasses

        verdict = dataclasses.replace(verdict, notes=(undecided_note(verdict), *verdict.notes))
    return Outcome(rec, verdict, (in_session or {}).get("record"), cross_rec, (in_session or {}).get("partner"))


def _checkout(rev: str | None, tmp: Path, reference: str, why_not: str | None):
    """(the reference's tree or None, why there is none): a rev that cannot be extracted is an error when
    the user named it, and no in-session reference when it came from the baseline (auto)."""
    if rev is None:
        return None, why_not
    try:
        return referencemod.checkout(rev, tmp / "code"), why_not
    except HarnessError as exc:
        if reference != AUTO:
            raise
        return None, f"no in-session reference: {exc}"


@dataclass
class _Paired:
    """The paired part of a check: the arms, the pairs with a look after each, the merged record."""

    config: RunConfig
    ref: referencemod.Reference
    stored: dict | None
    baseline_path: Path
    policies_path: str | Path | None
    gate: policymod.Gate
    progress: Progress | None
    command: str | None

    def run(self, tmp: Path, repeat: int, reference_env: str, mode: str | None, sequential: bool):
        """(merged record, in-session arms or None, why the reference was dropped, the reference arm when it
        ran to the end, the pairing mode)."""
        gate = self.gate
        plan = plan_arms(self.ref, self.stored, reference_env, self.progress, scratch=tmp)
        used, why_mode = referencemod.pairing(self.config, 1 + len(plan.arms), mode or gate.mode)
        most = max(repeat, gate.max_pairs) if sequential and gate.min_pairs < repeat else repeat
        looks = _Looks(plan, self.ref, self.baseline_path, self.policies_path, self.stored, repeat,
                       gate.min_pairs if sequential else repeat, used, why_mode, most,
                       gate.design_pairs, gate.extra_pairs, self.progress)
        current, by_arm, dropped = referencemod.interleaved(
            self.config, looks.max_pairs, plan.arms, self.progress, self.command, mode=used, stop=looks,
            period_s=gate.crossover_period_s, pairs_log=looks.pairs_log, barrier_timeout_s=gate.barrier_timeout_s)
        rec = recordmod.merge_repetitions(current)
        recordmod.validate(rec)
        in_session = looks.in_session(rec, by_arm, final=True) if not dropped and by_arm.get("reference") else None
        return rec, in_session, dropped, plan.arms[0] if in_session else None, used


def undecided_note(verdict) -> str:
    """Why a check ended undecided: each undecided measurement with what it rules out and its pair noise,
    and what else used the host during the pairs (harness.measure.host)."""
    from harness.measure import host

    prov = verdict.reference_provenance or {}
    parts = [f"{m.name}: {m.reason.split('; vs the in-session')[0]}" for m in verdict.measurements
             if m.verdict == "undecided"]
    busy = host.words(prov.get("host"))
    return ("UNDECIDED" + (f" after {prov['runs']} pairs ({prov.get('stopped')})" if prov.get("runs") else "")
            + ": " + " | ".join(parts) + (f". {busy}" if busy else "")
            + ". An undecided check has not shown the code is fine: [gate] on_undecided chooses its exit.")


@dataclass
class _Looks:
    """The sequential gate's look after each pair (the ``stop`` of reference.interleaved): judge the
    pairs so far with the one judge and stop when it is decided (harness/judge/decide.py::stop_reason)."""
    plan: Plan
    ref: referencemod.Reference
    baseline_path: Path
    policies_path: str | Path | None
    stored: dict | None
    repeat: int  # the check's pairs; past them, on only while an undecided measurement could be decided
    min_pairs: int  # fewest pairs before a stop (== repeat: no early stop)
    mode: str  # how the pairs ran (harness/judge/policy.py MODES)
    why_mode: str | None  # why not the policy's mode
    max_pairs: int  # the cap ([gate] max_pairs; == repeat without early stop)
    design_pairs: int  # [gate] design_pairs
    extra_pairs: int  # [gate] extra_pairs: after a first regression, pairs more to name the others
    progress: Progress | None = None
    stopped: str | None = None  # why the rounds ended early
    first_regression: int | None = None  # the pair count at which a measurement first regressed
    pairs_log: list = field(default_factory=list)  # per pair: what else used the host (reference.interleaved)

    def __call__(self, current: list[RunRecord], by_arm: dict[str, list[RunRecord]]) -> bool:
        from harness.judge import decide

        n = len(current)
        if n < self.min_pairs or self.min_pairs >= self.repeat:
            return False
        rec = recordmod.merge_repetitions(current)
        verdict = decide.verdict_of(rec, self.baseline_path, self.policies_path, stored=self.stored,
                                 in_session=self.in_session(rec, by_arm))
        if self.first_regression is None and any(m.verdict == "regressed" for m in verdict.measurements):
            self.first_regression = n
        self.stopped = decide.stop_reason(verdict, n, self.repeat, self.max_pairs,
                                            None if self.first_regression is None
                                            else self.first_regression + self.extra_pairs)
        if self.stopped and self.progress is not None:
            self.progress.note(f"stopping after {n} pairs: {self.stopped}")
        return self.stopped is not None

    def settings(self, pairs: int) -> dict:
        """The sequential state the judge reads (harness/judge/rules.py Context.sequential)."""
        return {"repeat": self.repeat, "min_pairs": self.min_pairs, "max_pairs": self.max_pairs,
                "design_pairs": self.design_pairs, "pairs": pairs, "mode": self.mode}

    def in_session(self, rec: RunRecord, by_arm: dict[str, list[RunRecord]], final: bool = False) -> dict:
        pairs = len(by_arm["reference"])
        sequential = None
        if self.min_pairs < self.repeat:
            why = self.stopped if final and self.stopped else f"ran all {pairs} pairs"
            sequential = {**self.settings(pairs), "stopped": why, "final": final}
        out = _in_session(rec, by_arm, self.plan, self.ref, self.mode, sequential, self.pairs_log)
        if final and self.why_mode:
            out["notes"] = (*out["notes"], self.why_mode)
        return out


@dataclass(frozen=True)
class Plan:
    arms: list[referencemod.Arm]  # the reference first
    environment: str  # the reference environment, in words
    changed: list  # [(distribution, reference environment's version, current version)]
    notes: tuple = ()


def plan_arms(ref: referencemod.Reference, stored: dict | None, choice: str, progress=None,
              scratch: Path | None = None) -> Plan:
    """The arms to run beside the current code: the reference in the baseline's environment, and the
    cross arm (baseline code, current environment) when that environment differs from the current one.

    With ``auto`` the baseline's environment is built from the commit's install files (harness.envs.build),
    then topped up with the distributions of this environment that the build lacks (the development
    tools that `make setup` adds: test, report, asv), layered over it in ``scratch``, so that only the
    distributions the commit or the baseline's record pin differently tell the two apart."""
    import sys

    from harness.envs import build as envs
    from harness.envs import layered as env_layered
    from harness.measure import environment as envmod

    current_env = envmod.collect()
    recorded = ((stored or {}).get("record") or {}).get("environment")
    here = [referencemod.Arm("reference", ref, sys.executable)]

    def say(text: str) -> None:  # on stderr: shown even when quiet
        print(text, file=sys.stderr, flush=True)

    if choice == "current":
        return Plan(here, "the current environment", [])
    if choice != AUTO:
        python, where = choice, f"the interpreter {choice}"
        dists = env_layered.interpreter_distributions(Path(choice))
    elif recorded is None:
        return Plan(here, "the current environment", [])
    elif not envmod.distribution_diff(recorded, current_env):
        return Plan(here, "the current environment (its distributions match the baseline's)", [])
    else:
        pins = {k: v for k, v in (recorded.get("distributions") or {}).items() if k not in env_layered.TOOLING}
        built = envs.ensure(ref.code_dir, pins or None, progress=say)
        python, where, dists = _topped_up(built, scratch, say)
    changed = _diff(dists, envmod.installed_distributions())
    notes = _rebuilt_notes(recorded, dists) if choice == AUTO and recorded else ()
    arms = [referencemod.Arm("reference", ref, python)]
    if changed:
        arms.append(referencemod.Arm("cross", ref, sys.executable))
    return Plan(arms, where, changed, notes)


def _topped_up(built, scratch: Path | None, say) -> tuple[str, str, dict]:
    """(python, words, distributions) of the built environment plus this environment's distributions
    it lacks, layered over it (harness.envs.layered.layered: copies, no download)."""
    import sys

    from harness.envs import layered as env_layered
    from harness.measure import environment as envmod

    current = envmod.installed_distributions()
    extra = sorted(n for n in current if n not in built.distributions and n not in env_layered.TOOLING)
    if not extra or scratch is None:
        return str(built.python), built.where, built.distributions
    say(f"reference environment {built.key}: adding {len(extra)} distributions of this environment it "
        f"lacks ({', '.join(extra[:6])}{', ...' if len(extra) > 6 else ''})")
    python = env_layered.layered(built.python, scratch / "reference-env", {n: Path(sys.executable) for n in extra})
    words = f"{built.where}, with {len(extra)} distributions of this environment it lacks"
    return str(python), words, env_layered.interpreter_distributions(python)


def _diff(a: dict, b: dict) -> list:
    """(name, version in ``a``, version in ``b``) for every distribution that differs: changed versions
    first (the likely causes), then those only ``a`` has, then those only ``b`` has (a development
    environment's extras: test and report tools)."""
    from harness.measure import environment as envmod

    rows = envmod.distribution_diff({"distributions": a}, {"distributions": b})
    return sorted(rows, key=lambda r: (r[1] is None or r[2] is None, r[2] is not None))


def _rebuilt_notes(recorded: dict, dists: dict) -> tuple:
    """Where the rebuilt reference environment differs from the one the baseline recorded."""
    from harness.measure import environment as envmod

    differ = envmod.distribution_diff(recorded, {"distributions": dists, "packages": dists})
    if not differ:
        return ()
    from harness.judge.attribution import env_words

    return (f"the rebuilt reference environment differs from the baseline's record: {env_words(differ)}",)


PARTNER_NOTE = ("partner: the reference's commit and environment run again, each round beside the cross arm "
                "(harness/pairing/together.py)")

HOW = {"crossover": "re-run in this session in crossover pairs with the current runs (both sides at once, "
                     "trading CPUs every [gate] crossover_period_s)",
       "pinned": "re-run in this session in pinned pairs with the current runs (both sides at once, one CPU "
                  "each, trading CPUs every pair)",
       "duet": "re-run in this session in duet pairs with the current runs (both sides at once)",
       "alternating": "re-run in this session, alternating with the current runs"}


def _in_session(rec: RunRecord, by_arm: dict[str, list[RunRecord]], plan: Plan, ref: referencemod.Reference,
                mode: str = "alternating", sequential: dict | None = None, pairs_log: list | None = None) -> dict:
    """What the judge needs of the arms: merged records, provenance, the environment change, the
    sequential gate's state (horizon, pairs, why it stopped) when it looks after every pair, and
    what else used the host's CPUs during the pairs (harness.measure.host.summary)."""
    from harness.measure import host

    ref_rec = recordmod.merge_repetitions(by_arm["reference"])
    cross = recordmod.merge_repetitions(by_arm["cross"]) if by_arm.get("cross") else None
    beside = by_arm.get(together.PARTNER)  # the reference's runs beside the cross arm (a round in two pairs)
    partner = recordmod.merge_repetitions(beside) if cross and beside else None
    if partner:
        partner["notes"] = [*(partner.get("notes") or []), PARTNER_NOTE]
    git = rec["environment"].get("git") or {}
    head = (git.get("commit") or "working tree")[:10] + ("+" if git.get("dirty") else "")
    provenance = {"commit": ref.commit, "runs": ref_rec["repeat"], "date": ref_rec["finished_at"],
                  "how": HOW[mode], "paired": True, "mode": mode,
                  "environment": plan.environment, "arms": 2 + (cross is not None)}
    if partner:
        provenance["partner"] = True
    if pairs_log:
        provenance["host"] = host.summary(pairs_log)
        launch = together.launch_words(pairs_log)
        if launch:
            provenance["launch"] = launch
    if sequential:
        provenance["stopped"] = sequential["stopped"]
    return {"record": ref_rec, "provenance": provenance, "cross": cross, "partner": partner, "changed": plan.changed,
            "code_range": f"{ref.commit[:10]}..{head}", "notes": plan.notes, "sequential": sequential}
