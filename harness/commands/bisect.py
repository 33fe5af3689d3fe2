"""`t4rec-bench bisect GOOD BAD`: the first commit of a regression, found by the harness's paired judge.

Walks the first-parent line GOOD..BAD (harness/pairing/bisect_commits.py): BAD against GOOD first, then each
probe a midpoint against GOOD, in a duel (harness/pairing/duel.py: pairs as `check` runs them, judged after
each pair by the gate's sequential decision on one measurement, stopping once decided). A commit that does
not build or run is skipped, as `git bisect skip`; an undecided probe ends the search. The culprit then duels
its parent, to tell whether the regression is its own or needs several commits together. Each commit runs
in this environment when its install files are this tree's, else in its own (harness/envs/build.py).
Exit codes (README, "Exit codes"): 0 a culprit named, or BAD does not regress against GOOD (nothing to
bisect); 6 undecided (a probe could not tell); 4 the first bad commit is among commits that did not run, or
GOOD did not run; 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.commands import _common
from harness.judge.policy import MODES


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bisect", help="name the commit that made a measurement regress (commit bisection with the paired judge)",
        description="Bisect the first-parent commits from GOOD to BAD: each probe runs a commit in pairs with "
                    "GOOD and judges one measurement after every pair with the gate's sequential test, until "
                    "one commit is named. The result also goes to a JSON document (--out).")
    p.add_argument("good", metavar="GOOD", help="a commit without the regression")
    p.add_argument("bad", metavar="BAD", help="a later commit with it (GOOD must be on its first-parent line)")
    _common.add_workload_options(p, default_profile="ci")
    p.add_argument("--metric", metavar="NAME",
                   help="measurement to judge (default: the [gate] primary in harness/policies.toml)")
    p.add_argument("--pairs", type=_common.positive_int, metavar="N",
                   help="pairs per probe before it stops undecided, unless more could decide (default: [gate] "
                        "repeat and max_pairs in harness/policies.toml)")
    p.add_argument("--mode", choices=MODES,
                   help="how a pair's two sides run (as check's --mode; default: [gate] mode in harness/policies.toml)")
    p.add_argument("--repo", metavar="PATH", help="the git repository (default: this harness's checkout)")
    p.add_argument("--policies", metavar="PATH", help="policy file (default: harness/policies.toml)")
    p.add_argument("--out", metavar="PATH", help="result JSON (default: reports/bisect-<good>-<bad>.json)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from harness import REPO_DIR
    from harness.documents import bisect_result
    from harness.pairing import bisect_run

    config = _common.config_from_args(args)
    opts = bisect_run.Options(args.good, args.bad, Path(args.repo) if args.repo else REPO_DIR, args.metric,
                              args.pairs, args.mode, args.policies)
    say = None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    found = bisect_run.run(config, opts, say)
    code = _print(found)
    out = Path(args.out) if args.out else bisect_result.default_path(found.good, found.bad)
    bisect_result.write(bisect_run.document(found, config, opts.repo), out)
    print(f"bisect: result {out}")
    return code


def _print(b) -> int:
    """The report on stdout; the exit code of its outcome."""
    from harness.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_UNDECIDED
    from harness.pairing import bisect_commits as search

    o = b.outcome
    own = o.own.pairs if o.own and o.parent != b.good else 0  # against GOOD, its own duel was a probe's
    pairs = o.total.pairs + sum(s.judged.pairs for s in o.probes) + own
    print(f"bisect: {b.metric}, {len(b.commits)} commits after GOOD {b.good[:10]} up to BAD {b.bad[:10]}; "
          f"{len(o.probes)} probes, {pairs} pairs")
    print(f"  GOOD -> BAD: {o.total.words}")
    for sha, why in b.skipped.items():
        print(f"  skipped {sha[:10]}: {why}")
    if o.outcome == search.NO_REGRESSION:
        print(f"bisect: BAD does not regress against GOOD on {b.metric}: nothing to bisect")
        return EXIT_OK
    if o.outcome == search.UNDECIDED_OUTCOME:
        at = o.undecided_at
        print(f"bisect: UNDECIDED at {at[:10]} ({b.subjects.get(at, '')}): the pairs could not tell; the first bad "
              f"commit is among {_span(o.suspects)} (more --pairs, or bisect that range)")
        return EXIT_UNDECIDED
    if o.outcome == search.SKIPPED:
        print(f"bisect: the first bad commit is among {_span(o.suspects)}: the others between did not build or run")
        return EXIT_RUN_FAILED
    return _culprit(b)


def _culprit(b) -> int:
    from harness.errors import EXIT_OK

    o = b.outcome
    print(f"bisect: culprit {o.culprit} {b.subjects.get(o.culprit, '')}")
    print(f"  its own change, against its parent {o.parent[:10]}: {o.own.words}")
    if o.together:
        which = "the commits before it carry part of it" if o.together[-1] == o.culprit else "later commits add to it"
        print(f"  the regression needs several commits together ({which}): {_span(o.together)}")
    print(f"  reproduce: {b.reproduce}")
    return EXIT_OK


def _span(commits) -> str:
    if len(commits) == 1:
        return commits[0][:10]
    return f"{commits[0][:10]}..{commits[-1][:10]} ({len(commits)} commits: {', '.join(c[:10] for c in commits)})"
