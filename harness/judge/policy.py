"""Comparison policies: load ``policies.toml`` and pick the policy for a measurement.

The file is data with a comment on every choice; this module only reads and validates it.
The first ``[[policy]]`` that matches a measurement (name glob and/or kind) wins; keys a
policy leaves out come from ``[defaults]``. ``[gate]`` holds the family-wise error budget
(how the false-positive rate is split over the measurements) and the default sample sizes.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
from dataclasses import dataclass, field, fields
from pathlib import Path

from harness.documents import policy_file, versions
from harness.errors import HarnessError

FORMAT_VERSION = 1
FORMAT = versions.Format("policy file", None, FORMAT_VERSION, older_hint="fix the file")
RULES = ("significance", "exact-or-seed-spread", "exact", "report-only")
NORMALISE = ("never", "cross-machine", "always")
TESTS = ("rank", "t")  # Mann-Whitney U on log values; Student's t on log values
MULTIPLE = ("bonferroni", "none")
# How the two sides of a pair run (harness/pairing/reference.py, harness/pairing/crossover.py): at the same time,
# trading CPUs every crossover_period_s ("crossover"), each on one CPU for the pair ("pinned") or where the
# scheduler puts them ("duet"); or one after the other ("alternating").
MODES = ("crossover", "pinned", "duet", "alternating")
ON_UNDECIDED = ("fail", "pass")  # [gate] on_undecided: an undecided check exits EXIT_UNDECIDED, or 0
STATISTICAL_RULES = ("significance", "exact-or-seed-spread")  # rules whose tests share the family alpha
KINDS = ("time", "throughput", "memory", "metric", "loss", "count")


@dataclass(frozen=True)
class Policy:
    name: str  # label shown in reasons ("stage time")
    rule: str  # one of RULES
    match: tuple[str, ...] = ()  # measurement-name globs; empty: any name
    kind: str | None = None  # measurement kind; None: any kind
    confidence: float = 0.99  # two-sided level when outside the family; in it, 1 - 2 * its [gate] share
    multiple_comparisons: str = "bonferroni"  # one of MULTIPLE: "bonferroni" = a member of the [gate] family
    power: float = 0.8  # for the minimum detectable effect
    test: str = "rank"  # significance rule's test: one of TESTS
    threshold_pct: float = 5.0  # practical threshold, percent of the baseline
    cross_session_pct: float = 0.0  # threshold floor when the baseline was measured in another session
    min_change: float = 0.0  # absolute floor of the practical threshold, measurement's unit
    max_mde_pct: float | None = None  # equivalence bound: "ok" once a worsening this large is ruled out
    normalise: str = "cross-machine"  # speed normalisation: one of NORMALISE
    exact_tolerance: float = 1e-6  # metrics/loss: "equal" within this absolute difference
    fallback_tolerance_pct: float = 5.0  # metrics/loss without a seed spread

    @property
    def in_family(self) -> bool:
        """Whether its tests share the [gate] family's false-positive budget."""
        return self.rule in STATISTICAL_RULES and self.multiple_comparisons == "bonferroni"

    def matches(self, name: str, kind: str) -> bool:
        by_name = not self.match or any(fnmatch.fnmatchcase(name, g) for g in self.match)
        return by_name and (self.kind is None or self.kind == kind)


@dataclass(frozen=True)
class Gate:
    """The gate's error budget, pairing and sample sizes: the ``[gate]`` table of policies.toml. It has
    no figures of its own: a file without ``[gate]`` (or without some of its keys) gets the committed
    file's (``committed_gate``)."""

    family_alpha: float  # bound on the chance that noise alone fails the gate (one check, every look)
    primary: str  # the primary endpoint: tested at alpha_primary
    alpha_primary: float  # one-sided level of the primary endpoint
    repeat: int  # pairs of a check (the runs of a check without a reference); `check --repeat`
    min_pairs: int  # fewest pairs before the sequential gate may stop
    max_pairs: int  # past repeat, the gate goes on while an undecided measurement could still be decided, to this
    design_pairs: int  # the pairs at which the sequential test's interval is tuned to be narrowest
    extra_pairs: int  # after a first regression, pairs more to decide the others beyond their threshold
    on_undecided: str  # one of ON_UNDECIDED: the exit of a check that ends undecided
    mode: str  # one of MODES: how a pair's sides run
    crossover_period_s: float  # mode "crossover": how often the sides trade CPUs
    barrier_timeout_s: float  # sides that run at once wait this long for each other before the first stage
    baseline_runs: int  # runs per baseline (`baseline record --repeat`)

    def alphas(self, family) -> dict[str, float]:
        """One-sided level per member of ``family`` (gated measurement names): the primary gets
        alpha_primary, the others split family_alpha - alpha_primary equally (Bonferroni), so the
        family-wise false-positive rate is at most family_alpha whatever their correlation."""
        others = [n for n in family if n != self.primary]
        out = {n: (self.family_alpha - self.alpha_primary) / len(others) for n in others}
        if self.primary in family:
            out[self.primary] = self.alpha_primary
        return out


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]
    source: str  # where they were read from
    gate: Gate = field(default_factory=lambda: committed_gate())

    def for_measurement(self, name: str, kind: str) -> Policy:
        for p in self.policies:
            if p.matches(name, kind):
                return p
        raise HarnessError(f"{self.source}: no policy matches measurement {name!r} (kind {kind!r}); "
                           f"add a [[policy]] with kind = {kind!r}")


_FIELDS = {f.name for f in fields(Policy)}
_GATE_FIELDS = {f.name for f in fields(Gate)}


def load(path: str | Path | None = None) -> PolicySet:
    """Read and validate a policy file (default: the committed ``harness/policies.toml``)."""
    source, doc = policy_file.read(path)
    return parse(doc, source)


def parse(doc: dict, source: str = "policies") -> PolicySet:
    doc = versions.read(doc, FORMAT, source)
    defaults = doc.get("defaults", {})
    _check_keys(defaults, source, "[defaults]")
    entries = doc.get("policy", [])
    if not entries:
        raise HarnessError(f"{source}: no [[policy]] entries")
    policies = tuple(_policy(entry, defaults, source, i) for i, entry in enumerate(entries))
    _check_coverage(policies, source)
    return PolicySet(policies, source, _gate(doc.get("gate", {}), source))


@functools.lru_cache(maxsize=1)
def _committed_gate_table() -> dict:
    return dict(policy_file.committed()["gate"])


def nightly_table(path: str | Path | None = None) -> dict:
    """The ``[nightly]`` table of a policy file (default: the committed one): the nightly's pairs."""
    table = policy_file.read(path)[1].get("nightly")
    if table is None:  # the committed file has one: read(None) returned it
        table = policy_file.committed()["nightly"]
    return dict(table)


@dataclass(frozen=True)
class ProfileSettings:
    """The ``[profile]`` table: the differential profile of a check (harness/pairing/profile.py)."""
    top: int  # functions kept per stage, by the size of their self time's move
    rate_hz: int  # py-spy's samples per second


def profile_settings(path: str | Path | None = None) -> ProfileSettings:
    """The ``[profile]`` table of a policy file (the committed file's when it has none); HarnessError when bad."""
    committed = policy_file.committed()["profile"]
    source, doc = policy_file.read(path)
    table = doc.get("profile", committed)
    _check_keys(table, source, "[profile]", {f.name for f in fields(ProfileSettings)})
    settings = ProfileSettings(**{**committed, **table})
    for key, low, high in (("top", 1, 1000), ("rate_hz", 1, 1000)):
        value = getattr(settings, key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise HarnessError(f"{source}: [profile]: {key}={value!r}: must be an integer in [{low}, {high}]")
    return settings


def committed_gate() -> Gate:
    """The ``[gate]`` of the committed harness/policies.toml."""
    return Gate(**_committed_gate_table())


def _gate(table: dict, source: str) -> Gate:
    _check_keys(table, source, "[gate]", _GATE_FIELDS)
    gate = Gate(**{**_committed_gate_table(), **table})
    try:
        _validate_gate(gate, source)
    except TypeError:
        raise HarnessError(f"{source}: [gate]: a value has the wrong type (numbers for the alphas and "
                           f"sizes, a string for primary)") from None
    return gate


def _validate_gate(g: Gate, source: str) -> None:
    def whole(x) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    checks = [
        (isinstance(g.primary, str), "primary", g.primary, "must be a measurement name"),
        (0 < g.family_alpha < 0.5, "family_alpha", g.family_alpha, "must be in (0, 0.5)"),
        (0 < g.alpha_primary < g.family_alpha, "alpha_primary", g.alpha_primary,
         f"must be in (0, family_alpha = {g.family_alpha}), leaving a share for the other measurements"),
        (whole(g.repeat) and g.repeat >= 1, "repeat", g.repeat, "must be an integer >= 1"),
        (whole(g.min_pairs) and 2 <= g.min_pairs <= g.repeat, "min_pairs", g.min_pairs,
         f"must be an integer in [2, repeat = {g.repeat}]"),
        (g.mode in MODES, "mode", g.mode, f"must be one of {', '.join(MODES)}"),
        (isinstance(g.crossover_period_s, (int, float)) and 0.01 <= g.crossover_period_s <= 60,
         "crossover_period_s", g.crossover_period_s, "must be a number of seconds in [0.01, 60]"),
        (isinstance(g.barrier_timeout_s, (int, float)) and 1 <= g.barrier_timeout_s <= 3600,
         "barrier_timeout_s", g.barrier_timeout_s, "must be a number of seconds in [1, 3600]"),
        (whole(g.max_pairs) and g.max_pairs >= g.repeat, "max_pairs", g.max_pairs,
         f"must be an integer >= repeat = {g.repeat}"),
        (whole(g.design_pairs) and 3 <= g.design_pairs <= 1000, "design_pairs", g.design_pairs,
         "must be an integer in [3, 1000]"),
        (whole(g.extra_pairs) and g.extra_pairs >= 0, "extra_pairs", g.extra_pairs, "must be an integer >= 0"),
        (g.on_undecided in ON_UNDECIDED, "on_undecided", g.on_undecided, f"must be one of {', '.join(ON_UNDECIDED)}"),
        (whole(g.baseline_runs) and g.baseline_runs >= 2, "baseline_runs", g.baseline_runs,
         "must be an integer >= 2"),
    ]
    for ok, key, value, why in checks:
        if not ok:
            raise HarnessError(f"{source}: [gate]: {key}={value!r}: {why}")


def _policy(entry: dict, defaults: dict, source: str, index: int) -> Policy:
    where = f"[[policy]] #{index + 1} ({entry.get('name', 'unnamed')})"
    _check_keys(entry, source, where)
    values = {**defaults, **entry}
    values.setdefault("name", f"policy {index + 1}")
    if "rule" not in values:
        raise HarnessError(f"{source}: {where} has no rule; choose one of {', '.join(RULES)}")
    values["match"] = tuple([values["match"]] if isinstance(values.get("match"), str) else values.get("match", ()))
    policy = Policy(**values)
    try:
        _validate(policy, source, where)
    except TypeError:
        raise HarnessError(f"{source}: {where}: a value has the wrong type (numbers for thresholds, "
                           f"strings for rule, kind and normalise)") from None
    return policy


def _check_keys(table: dict, source: str, where: str, known: set[str] = _FIELDS) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise HarnessError(f"{source}: {where}: unknown key {key!r}{hint}")


def _validate(p: Policy, source: str, where: str) -> None:
    checks = [
        (p.rule in RULES, "rule", p.rule, f"must be one of {', '.join(RULES)}"),
        (p.kind is None or p.kind in KINDS, "kind", p.kind, f"must be one of {', '.join(KINDS)}"),
        (p.multiple_comparisons in MULTIPLE, "multiple_comparisons", p.multiple_comparisons,
         f"must be one of {', '.join(MULTIPLE)}"),
        (p.normalise in NORMALISE, "normalise", p.normalise, f"must be one of {', '.join(NORMALISE)}"),
        (p.test in TESTS, "test", p.test, f"must be one of {', '.join(TESTS)}"),
        (0.5 <= p.confidence < 1, "confidence", p.confidence, "must be in [0.5, 1)"),
        (0.5 <= p.power < 1, "power", p.power, "must be in [0.5, 1)"),
        (p.threshold_pct >= 0, "threshold_pct", p.threshold_pct, "must be >= 0"),
        (p.cross_session_pct >= 0, "cross_session_pct", p.cross_session_pct, "must be >= 0"),
        (p.min_change >= 0, "min_change", p.min_change, "must be >= 0"),
        (p.max_mde_pct is None or p.max_mde_pct > 0, "max_mde_pct", p.max_mde_pct, "must be > 0"),
        (p.exact_tolerance >= 0, "exact_tolerance", p.exact_tolerance, "must be >= 0"),
        (p.fallback_tolerance_pct >= 0, "fallback_tolerance_pct", p.fallback_tolerance_pct, "must be >= 0"),
        (bool(p.match) or p.kind is not None, "match", p.match, "a policy needs a match list or a kind"),
    ]
    for ok, key, value, why in checks:
        if not ok:
            raise HarnessError(f"{source}: {where}: {key}={value!r}: {why}")


def _check_coverage(policies: tuple[Policy, ...], source: str) -> None:
    """Every measurement kind must have a fallback policy (one matched by kind alone)."""
    covered = {p.kind for p in policies if not p.match}
    missing = [k for k in KINDS if k not in covered]
    if missing:
        raise HarnessError(f"{source}: no policy for kind(s) {', '.join(missing)}; "
                           f"add a [[policy]] with kind and no match list for each")
