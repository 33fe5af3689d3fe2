"""`t4rec-bench bisect-env --good PY --bad PY`: which changed distribution slowed the pipeline.

When a verdict blames the environment and several distributions changed, this bisects over them:
each step builds an environment holding the good environment plus the bad versions of half of
the candidates (harness.envs.layered.layered: a thin layer over the good environment, no download),
runs this tree's pipeline alternately in it and in the good environment, and judges the chosen
measurement with the one paired decision of the gate (harness/judge/significance.py ``paired_look``:
the sequential test, looking after every pair and stopping once decided), at the gate's primary level
and the measurement's policy (harness/policies.toml), the direction taken from the record's own
measurement. It halves until one distribution (or a set that cannot be split) is named. Progress
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


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bisect-env", help="name the changed distribution that slowed the pipeline (dependency bisection)",
        description="Bisect over the distributions that differ between two environments: build environments "
                    "holding half of the changes and run the paired comparison on each, until one distribution "
                    "(or a set that cannot be split) is named.")
    p.add_argument("--good", required=True, metavar="PYTHON", help="interpreter of the environment without the regression")
    p.add_argument("--bad", required=True, metavar="PYTHON", help="interpreter of the environment with it")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--pairs", type=_common.positive_int, metavar="N",
                   help="alternating pairs per step before it stops undecided, unless more could decide "
                        "(default: [gate] repeat and max_pairs in harness/policies.toml)")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="measurement to judge (default: the [gate] primary in harness/policies.toml)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--quiet", action="store_true", help="no per-run progress")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from harness.errors import EXIT_OK, EXIT_REGRESSED, EXIT_UNDECIDED, HarnessError
    from harness.judge import policy
    from harness.envs import layered as env_layered
    from harness.envs import bisect_packages as envbisect

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
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"bisect-env: {len(changed)} distributions differ: "
        + ", ".join(f"{n} {a or '(none)'} -> {b or '(none)'}" for n, (a, b) in changed.items()))
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-bisect-") as tmp:
        step = _Step(config, good, bad, Path(tmp), pairs, metric, policies, say, args.quiet)
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
    in pairs judged after each by the gate's one paired decision: True regressed, False not (ok or
    improved), None undecided."""

    def __init__(self, config, good: Path, bad: Path, tmp: Path, pairs: int, metric: str, policies, say, quiet):
        self.config, self.good, self.bad, self.tmp = config, good, bad, tmp
        self.pairs, self.metric, self.say, self.quiet = pairs, metric, say, quiet
        self.policies, self.last = policies, ""
        g = policies.gate
        self.settings = {"repeat": pairs, "min_pairs": min(g.min_pairs, pairs), "max_pairs": max(pairs, g.max_pairs),
                         "design_pairs": g.design_pairs}

    def __call__(self, subset: list[str]) -> bool | None:
        from harness.envs import layered as env_layered

        layer = self.tmp / f"env-{len(list(self.tmp.glob('env-*')))}"
        python = env_layered.layered(self.good, layer, {name: self.bad for name in subset})
        return self._pairs(python, subset)

    def _pairs(self, python: Path, subset: list[str]) -> bool | None:
        from harness.judge import sequential as seq
        from harness.judge.judging import stop_pairs
        from harness.pairing import reference

        code = reference.Reference("working tree", REPO_DIR)
        argv, out = reference.run_argv(self.config), self.tmp / "runs"
        out.mkdir(exist_ok=True)
        timeout = 3 * self.config.stage_timeout_s + 300
        sides = {"good": (self.good, []), "bad": (python, [])}
        look = None
        for i in range(self.settings["max_pairs"]):
            for side in reference.order(i, ["good", "bad"]):
                py, into = sides[side]
                if not self.quiet:
                    self.say(f"  pair {i + 1}: {side} environment")
                rec = reference.run_once(code, argv, out, timeout, str(py))
                into.append(next(m for m in rec["measurements"] if m["name"] == self.metric))
            look = self._look(sides["good"][1], sides["bad"][1])
            if look is not None and stop_pairs(look, i + 1, self.settings):
                break
        self.last = (f"{self.metric} {look.change_pct:+.1f}% after {look.seq.n} pairs, {look.state}, anytime "
                     f"one-sided p {look.seq.p_value:.2g}" if look else f"{self.metric}: no pair to judge")
        self.say(f"bisect-env: with the bad {', '.join(subset)}: {self.last}")
        return None if look is None or look.state == seq.UNDECIDED else look.state == seq.REGRESSED

    def _look(self, good: list[dict], bad: list[dict]):
        from harness.judge.significance import paired_look

        m = bad[-1]
        pol = self.policies.for_measurement(m["name"], m["kind"])
        return paired_look([g["value"] for g in good], [b["value"] for b in bad], m["higher_is_better"], pol,
                           self.policies.gate.alpha_primary, self.settings)
