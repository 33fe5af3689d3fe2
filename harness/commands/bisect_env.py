"""`t4rec-bench bisect-env --good PY --bad PY`: which changed distribution slowed the pipeline.

When a verdict blames the environment and several distributions changed, this bisects over them:
each step builds an environment holding the good environment plus the bad versions of half of
the candidates (harness.envs.layered.layered: a thin layer over the good environment, no download),
runs this tree's pipeline in pairs in it and in the good environment (a duel, harness/pairing/duel.py:
pairs in the [gate] mode, the one paired decision of the gate after each, stopping once decided), at the
gate's primary level and the measurement's policy (harness/policies.toml), the direction taken from the
record's own measurement. It halves until one distribution (or a set that cannot be split) is named. Progress
shows the candidates left.
Exit codes (README, "Exit codes"): 1 the bad environment regressed (the culprit, or the set that cannot
be split, is printed); 0 it does not regress here; 6 undecided (the pairs could not tell); 2 bad input;
4 a run failed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harness import REPO_DIR
from harness.commands import _common
from harness.judge.policy import MODES


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bisect-env", help="name the changed distribution that slowed the pipeline (dependency bisection)",
        description="Bisect over the distributions that differ between two environments: build environments "
                    "holding half of the changes and run the paired comparison on each, until one distribution "
                    "(or a set that cannot be split) is named.")
    p.add_argument("--good", required=True, metavar="PYTHON",
                   help="interpreter of the environment without the regression")
    p.add_argument("--bad", required=True, metavar="PYTHON", help="interpreter of the environment with it")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--pairs", type=_common.positive_int, metavar="N",
                   help="pairs per step before it stops undecided, unless more could decide "
                        "(default: [gate] repeat and max_pairs in harness/policies.toml)")
    p.add_argument("--mode", choices=MODES,
                   help="how a pair's two sides run (as check's --mode; default: [gate] mode in harness/policies.toml)")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="measurement to judge (default: the [gate] primary in harness/policies.toml)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--quiet", action="store_true", help="no per-run progress")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from harness.envs import bisect_packages as envbisect
    from harness.envs import layered as env_layered
    from harness.errors import EXIT_OK, EXIT_REGRESSED, EXIT_UNDECIDED, HarnessError
    from harness.judge import policy

    good, bad = Path(args.good), Path(args.bad)
    for py in (good, bad):
        if not py.is_file():
            raise HarnessError(f"{py}: no such interpreter")
    policies = policy.load(args.policies)
    metric = args.metric or policies.gate.primary
    pairs = args.pairs or policies.gate.repeat
    config = _common.config_from_args(args)
    changed = envbisect.changed(env_layered.interpreter_distributions(good), env_layered.interpreter_distributions(bad))
    if not changed:
        raise HarnessError("the two environments hold the same distributions: nothing to bisect")
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    say(f"bisect-env: {len(changed)} distributions differ: "
        + ", ".join(f"{n} {a or '(none)'} -> {b or '(none)'}" for n, (a, b) in changed.items()))
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-bisect-") as tmp:
        step = _Step(config, good, bad, Path(tmp), pairs, metric, policies, say, args.quiet, args.mode)
        first = step(list(changed))
        if first is not True:
            print(f"bisect-env: the bad environment {'does not regress' if first is False else 'cannot be told from'}"
                  f" the good one on {metric} here ({step.last}); nothing to bisect")
            return EXIT_OK if first is False else EXIT_UNDECIDED
        result = envbisect.bisect(list(changed), step, progress=say)
    named = ", ".join(f"{n} {changed[n][0] or '(none)'} -> {changed[n][1] or '(none)'}" for n in result.culprits)
    kind = "the culprit" if result.exact else "a set that cannot be split"
    print(f"bisect-env: {metric} regressed; {kind}: {named} ({result.reason}; {len(result.steps)} steps)")
    return EXIT_REGRESSED


class _Step:
    """``is_bad(subset)``: the good environment plus the bad versions of ``subset``, against the good one,
    in a duel of this tree (harness/pairing/duel.py: the gate's one paired decision after each pair):
    True regressed, False not (ok or improved), None undecided."""

    def __init__(self, config, good: Path, bad: Path, tmp: Path, pairs: int, metric: str, policies, say, quiet,
                 mode: str | None = None):
        self.config, self.good, self.bad, self.tmp = config, good, bad, tmp
        self.pairs, self.metric, self.say, self.quiet = pairs, metric, say, quiet
        self.policies, self.mode, self.last = policies, mode, ""

    def __call__(self, subset: list[str]) -> bool | None:
        from harness.envs import layered as env_layered

        layer = self.tmp / f"env-{len(list(self.tmp.glob('env-*')))}"
        python = env_layered.layered(self.good, layer, {name: self.bad for name in subset})
        return self._pairs(python, subset)

    def _pairs(self, python: Path, subset: list[str]) -> bool | None:
        from harness.judge import sequential as seq
        from harness.pairing import duel, reference

        code = reference.Reference("working tree", REPO_DIR)
        result = duel.duel(self.config, duel.Side("good", code, str(self.good)), duel.Side("bad", code, str(python)),
                           self.metric, self.policies, self.pairs, self.mode, None if self.quiet else self.say)
        self.last = result.words()
        self.say(f"bisect-env: with the bad {', '.join(subset)}: {self.last}")
        return None if result.state == seq.UNDECIDED else result.state == seq.REGRESSED
