"""`t4rec-bench bisect-env --good PY --bad PY`: which changed distribution slowed the pipeline.

When a verdict blames the environment and several distributions changed, this bisects over them:
each step builds an environment holding the good environment plus the bad versions of half of
the candidates (harness.run.env_layered.layered: a thin layer over the good environment, no download),
runs this tree's pipeline alternately in it and in the good environment, and judges the chosen
measurement with the paired t on the pairs' log ratios, at the gate's primary level and the
measurement's practical threshold (harness/policies.toml). It halves until one distribution (or
a set that cannot be split) is named. Progress shows the candidates left.
Exit codes: 0 a culprit was named; 1 the bad environment does not reproduce the regression or
no culprit could be named; 2 bad input.
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
                   help="alternating pairs per step (default: [gate] repeat in harness/policies.toml)")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="measurement to judge (default: the [gate] primary in harness/policies.toml)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--quiet", action="store_true", help="no per-run progress")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from harness.errors import HarnessError
    from harness.judge import policy
    from harness.run import env_layered, envbisect

    good, bad = Path(args.good), Path(args.bad)
    for py in (good, bad):
        if not py.is_file():
            raise HarnessError(f"{py}: no such interpreter")
    policies = policy.load(args.policies)
    metric = args.metric or policies.gate.primary
    pairs = args.pairs or policies.gate.repeat
    config = _common.config_from_args(args)
    changed = envbisect.changed(env_layered.distributions(good), env_layered.distributions(bad))
    if not changed:
        raise HarnessError("the two environments hold the same distributions: nothing to bisect")
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"bisect-env: {len(changed)} distributions differ: "
        + ", ".join(f"{n} {a or '(none)'} -> {b or '(none)'}" for n, (a, b) in changed.items()))
    with tempfile.TemporaryDirectory(prefix="t4rec-bench-bisect-") as tmp:
        step = _Step(config, good, bad, Path(tmp), pairs, metric, policies, say, args.quiet)
        if step(list(changed)) is not True:
            print(f"bisect-env: the bad environment does not show a regression of {metric} here "
                  f"({step.last}); nothing to bisect")
            return 1
        result = envbisect.bisect(list(changed), step, progress=say)
    named = ", ".join(f"{n} {changed[n][0] or '(none)'} -> {changed[n][1] or '(none)'}" for n in result.culprits)
    kind = "the culprit" if result.exact else "a set that cannot be split"
    print(f"bisect-env: {kind}: {named} ({result.reason}; {len(result.steps)} steps of {pairs} pairs)")
    return 0 if result.culprits else 1


class _Step:
    """``is_bad(subset)``: the good environment plus the bad versions of ``subset``, against the good one."""

    def __init__(self, config, good: Path, bad: Path, tmp: Path, pairs: int, metric: str, policies, say, quiet):
        self.config, self.good, self.bad, self.tmp = config, good, bad, tmp
        self.pairs, self.metric, self.say, self.quiet = pairs, metric, say, quiet
        pol = policies.for_measurement(metric, "time" if metric.endswith("wall_s") else "throughput")
        self.alpha, self.threshold = policies.gate.alpha_primary, pol.threshold_pct
        self.last = ""

    def __call__(self, subset: list[str]) -> bool | None:
        from harness.run import env_layered

        layer = self.tmp / f"env-{len(list(self.tmp.glob('env-*')))}"
        python = env_layered.layered(self.good, layer, {name: self.bad for name in subset})
        good, bad = self._samples(python)
        return self._judge(good, bad, subset)

    def _samples(self, python: Path) -> tuple[list[float], list[float]]:
        from harness.run import reference

        code = reference.Reference("working tree", REPO_DIR)
        argv, out = reference.run_argv(self.config), self.tmp / "runs"
        out.mkdir(exist_ok=True)
        timeout = 3 * self.config.stage_timeout_s + 300
        sides = {"good": (self.good, []), "bad": (python, [])}
        for i in range(self.pairs):
            for side in reference.order(i, ["good", "bad"]):
                py, into = sides[side]
                if not self.quiet:
                    self.say(f"  pair {i + 1}/{self.pairs}: {side} environment")
                rec = reference.run_once(code, argv, out, timeout, str(py))
                into.append(next(m["value"] for m in rec["measurements"] if m["name"] == self.metric))
        return sides["good"][1], sides["bad"][1]

    def _judge(self, good: list[float], bad: list[float], subset: list[str]) -> bool | None:
        from harness.judge import stats

        test = stats.paired_log_ratio_test(good, bad)
        change = 100.0 * (test.ratio - 1)
        higher_is_worse = not self.metric.endswith("_per_s")
        p = stats.p_value(test, higher=higher_is_worse)
        worse = change > 0 if higher_is_worse else change < 0
        self.last = f"{self.metric} {change:+.1f}%, one-sided p {p:.2g}"
        self.say(f"bisect-env: with the bad {', '.join(subset)}: {self.last}")
        if worse and p < self.alpha and abs(change) > self.threshold:
            return True
        return None if worse and abs(change) > self.threshold else False
