"""Running `t4rec-bench bisect`: each commit's tree and environment, its duels, and the result document.

The search is harness/pairing/bisect_commits.py (pure); here each duel it asks for runs: the commit's tree
is extracted (harness/vcs.py), run in this environment when its install files (harness/envs/build.py
``install_files``) are this tree's, else in its own environment, built from its own install files and
cached (``build.ensure``, as the in-session reference's). Two commits duel as harness/pairing/duel.py says.
A commit whose tree, environment or run fails is a skip; GOOD (or a culprit's parent) failing ends the
bisection (exit 4).
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import REPO_DIR, vcs
from harness.config import RunConfig
from harness.errors import HarnessError
from harness.judge.policy import PolicySet
from harness.pairing import bisect_commits as search
from harness.pairing import duel as dueling
from harness.pairing import reference


@dataclass(frozen=True)
class Options:
    """What a bisection runs, built once by the command (harness/commands/bisect.py)."""
    good: str  # revisions as given
    bad: str
    repo: Path = REPO_DIR
    metric: str | None = None  # None: [gate] primary
    pairs: int | None = None  # None: [gate] repeat
    mode: str | None = None  # None: [gate] mode
    policies: str | None = None  # a policy file; None: harness/policies.toml


@dataclass(frozen=True)
class Bisection:
    """A finished bisection: the search's outcome and what the report needs to name it."""
    outcome: search.Outcome
    good: str  # full shas
    bad: str
    commits: tuple[str, ...]  # the first-parent line after GOOD up to BAD, oldest first
    metric: str
    subjects: dict  # sha -> subject, of every commit named
    skipped: dict  # sha -> why it was skipped
    reproduce: str  # the exact command that runs the culprit's own duel again


def run(config, opts: Options, say: Callable[[str], None] | None = None) -> Bisection:
    """Bisect ``opts.good``..``opts.bad`` on ``config``'s workload. HarnessError for bad input (before
    any run), SideFailed when GOOD or a culprit's parent cannot run."""
    from harness.judge import policy

    say = say or (lambda line: None)
    repo = vcs.Repo(opts.repo)
    commits = repo.first_parents(opts.good, opts.bad)
    good, bad = repo.resolve(opts.good), commits[-1]
    policies = policy.load(opts.policies)
    metric = opts.metric or policies.gate.primary
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-bisect-") as tmp:
        trees = _Trees(repo, Path(tmp), say)
        duels = _Duels(config, trees, good, metric, policies, opts, say)
        outcome = search.bisect(good, commits, duels, say)
    named = {good, bad, *(c for c in (outcome.culprit, outcome.parent, outcome.undecided_at) if c),
             *outcome.suspects, *outcome.together}
    return Bisection(outcome, good, bad, tuple(commits), metric, {c: repo.subject(c) for c in named},
                     dict(duels.skipped), reproduce(config, opts, outcome, metric))


def reproduce(config, opts: Options, outcome: search.Outcome, metric: str) -> str:
    """The command that runs the step that names the culprit (its own duel, against its parent) again:
    a bisection of the one commit, with this one's workload, measurement, pairs, mode and policies."""
    parent, culprit = outcome.parent, outcome.culprit
    if culprit is None or parent is None:  # the search names both or neither
        return ""
    argv = ["t4rec-bench", "bisect", parent, culprit, *reference.run_argv(config), "--metric", metric]
    if Path(opts.repo).resolve() != REPO_DIR.resolve():
        argv += ["--repo", str(Path(opts.repo).resolve())]
    for flag, value in (("--pairs", opts.pairs), ("--mode", opts.mode), ("--policies", opts.policies)):
        if value is not None:
            argv += [flag, str(value)]
    return shlex.join(argv)


@dataclass
class _Trees:
    """Each commit's side: its tree extracted once, and the interpreter of its environment."""
    repo: vcs.Repo
    tmp: Path
    say: Callable[[str], None]
    sides: dict = field(default_factory=dict)  # sha -> duel.Side, or the HarnessError it failed with

    def side(self, commit: str) -> dueling.Side:
        if commit not in self.sides:
            try:
                self.sides[commit] = self._prepare(commit)
            except HarnessError as exc:
                self.sides[commit] = exc
        found = self.sides[commit]
        if isinstance(found, HarnessError):
            raise dueling.SideFailed(commit[:10], f"{commit[:10]}: {found}")
        return found

    def _prepare(self, commit: str) -> dueling.Side:
        code = reference.checkout(commit, self.tmp / f"code-{commit[:12]}", self.repo.path)
        return dueling.Side(commit[:10], code, self._python(code.code_dir))

    def _python(self, tree: Path) -> str:
        """This interpreter when ``tree`` installs itself as this tree does, else its own environment's."""
        from harness.envs import build

        if build.install_files(tree) == build.install_files(REPO_DIR):
            return sys.executable
        self.say(f"bisect: {tree.name}: its install files differ from this tree's: its own environment")
        return str(build.ensure(tree, progress=self.say).python)


@dataclass
class _Duels:
    """The search's ``duel(commit, against)``: a duel of the two commits' sides, or a skip when ``commit``
    cannot build or run."""
    config: RunConfig
    trees: _Trees
    good: str
    metric: str
    policies: PolicySet
    opts: Options
    say: Callable[[str], None]
    skipped: dict = field(default_factory=dict)  # sha -> why

    def __call__(self, commit: str, against: str) -> search.Judged:
        base = self.trees.side(against)  # GOOD or a tested parent: its failure ends the bisection
        try:
            other = self.trees.side(commit)
            result = dueling.duel(self.config, base, other, self.metric, self.policies, self.opts.pairs,
                                  self.opts.mode, self.say)
        except dueling.SideFailed as exc:
            if exc.side != commit[:10]:
                raise
            why = str(exc).removeprefix(f"{exc.side}: ")
            self.skipped[commit] = why
            return search.Judged(search.SKIP, words=why)
        return search.Judged(result.state, result.change_pct, result.low_pct, result.high_pct, result.pairs,
                             result.higher_is_better, result.words(), result)


def document(b: Bisection, config, repo: Path) -> dict:
    """The result document's body (harness/documents/bisect_result.py)."""
    import datetime as dt

    o = b.outcome
    own = None if o.own is None else _duel_doc(o.own)
    culprit = None if o.culprit is None else {"commit": o.culprit, "subject": b.subjects.get(o.culprit, ""),
                                              "parent": o.parent, "own": own}
    return {"created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "repo": str(Path(repo).resolve()), "good": b.good, "bad": b.bad, "metric": b.metric,
            "workload": reference.run_argv(config), "outcome": o.outcome, "total": _duel_doc(o.total),
            "probes": [{"commit": s.commit, "against": s.against, "candidates_left": s.left, **_duel_doc(s.judged)}
                      for s in o.probes],
            "culprit": culprit, "together": list(o.together), "suspects": list(o.suspects),
            "undecided_at": o.undecided_at, "skipped": b.skipped, "subjects": b.subjects, "reproduce": b.reproduce}


def _duel_doc(j: search.Judged) -> dict:
    import math

    def finite(x):
        return x if isinstance(x, (int, float)) and math.isfinite(x) else None

    doc: dict[str, object] = {"state": j.state, "change_pct": finite(j.change_pct), "low_pct": finite(j.low_pct),
                              "high_pct": finite(j.high_pct), "pairs": j.pairs, "words": j.words}
    r = j.detail
    if isinstance(r, dueling.Result):  # a skip has none
        doc.update(mode=r.mode, p_value=finite(r.p_value), base=list(r.base), values=list(r.other))
    return doc
