"""Verdict types: one MeasurementVerdict per measurement, one Verdict per comparison.

The words a measurement can get (``VERDICTS``), their order from worst to best (``SEVERITY``)
and the exit code each overall verdict maps to (``EXIT_CODES``, harness/errors.py). The file
form (version and kind) is harness/documents/verdict.py's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness.documents import verdict as verdictdoc
from harness.documents.record_types import Measurement
from harness.errors import EXIT_NO_BASELINE, EXIT_OK, EXIT_REGRESSED, EXIT_RUN_FAILED, EXIT_UNDECIDED

# "undecided": the data cannot tell yet (too noisy, too few pairs, or a throttled GPU); never a silent
# pass: it exits EXIT_UNDECIDED unless [gate] on_undecided = "pass" (``exit_code``).
VERDICTS = ("ok", "improved", "regressed", "undecided", "incomparable", "missing", "failed")
SEVERITY = ("failed", "regressed", "incomparable", "missing", "undecided", "improved", "ok")  # worst first
EXIT_CODES = {"failed": EXIT_RUN_FAILED, "regressed": EXIT_REGRESSED, "incomparable": EXIT_NO_BASELINE,
              "missing": EXIT_NO_BASELINE, "undecided": EXIT_UNDECIDED, "improved": EXIT_OK, "ok": EXIT_OK}


def exit_code(overall: str, on_undecided: str = "fail") -> int:
    """The exit code of an overall verdict ([gate] on_undecided = "pass" makes "undecided" exit 0)."""
    return EXIT_OK if overall == "undecided" and on_undecided == "pass" else EXIT_CODES[overall]


@dataclass(frozen=True)
class MeasurementVerdict:
    name: str
    unit: str
    kind: str
    higher_is_better: bool
    baseline: float | None  # baseline median (speed-normalised to this run's machine if the policy says so)
    current: float | None  # current median
    change_pct: float | None  # 100 * (current - baseline) / baseline
    ci_low_pct: float | None  # confidence interval of the change, percent
    ci_high_pct: float | None
    p_value: float | None
    confidence: float | None  # two-sided level of the CI; each direction is tested one-sided at (1 - it) / 2
    threshold_pct: float | None  # practical threshold applied
    min_detectable_pct: float | None  # smallest change in the worse direction this data flags (at the policy's power)
    verdict: str  # one of VERDICTS
    reason: str  # one human sentence
    against: str = "baseline"  # "baseline" (the stored file) or "reference" (re-run in this session)
    cause: str = ""  # what moved it, when the code x environment arms could tell (harness.judge.attribution)
    comparand_low: float | None = None  # smallest and largest sample of what it was judged against
    comparand_high: float | None = None
    decidable: bool | None = None  # undecided in the sequential gate: whether more pairs (to max_pairs) could decide it


@dataclass(frozen=True)
class Verdict:
    overall: str  # worst of the per-measurement verdicts (SEVERITY order); "failed" if the run failed
    exit_code: int  # 0 ok/improved, 1 regressed, 3 no comparable baseline, 4 failed run, 6 undecided (errors.py)
    run_id: str
    profile: str
    baseline_path: str | None
    baseline_provenance: dict  # date, commit, env fingerprint, command, runs
    environment_diff: list  # [(key, baseline_value, current_value)]
    workload_match: bool
    measurements: tuple[MeasurementVerdict, ...]  # regressions first
    notes: tuple[str, ...] = ()  # run-level remarks: workload diff, injected faults, failure
    reference_provenance: dict = field(default_factory=dict)  # commit, runs, date of the in-session reference
    etl_backend: str | None = None  # where the run's ETL ran: "pandas" or "cudf"; None when its record did not say
    # the differential profile of a time regression (harness/pairing/profile.py; its shape:
    # harness/documents/profile_types.py ProfileDiff); None when no profile was asked for or needed
    profile_diff: dict | None = None

    def to_dict(self) -> dict:
        """The verdict document (harness/documents/verdict.py): format_version and kind, then the fields."""
        d = dataclasses.asdict(self)
        d["environment_diff"] = [list(t) for t in self.environment_diff]
        return verdictdoc.dump(d)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """Rebuild a verdict written by ``to_dict`` (a verdict JSON file); other kinds and versions are refused."""
        body = verdictdoc.load(d)
        body["measurements"] = tuple(MeasurementVerdict(**m) for m in body["measurements"])
        body["environment_diff"] = [tuple(t) for t in body["environment_diff"]]
        body["notes"] = tuple(body.get("notes", ()))
        return cls(**body)


def worst(verdicts) -> str:
    """The most severe verdict in ``verdicts`` ("ok" for none)."""
    return min(verdicts, key=SEVERITY.index, default="ok")


def make(c: Measurement, **fields) -> MeasurementVerdict:
    """The verdict of measurement ``c`` (a record's measurement dict): its name, unit, kind and direction,
    every figure None unless given in ``fields``."""
    base = dict(name=c["name"], unit=c["unit"], kind=c["kind"], higher_is_better=c["higher_is_better"],
                baseline=None, current=None, change_pct=None, ci_low_pct=None, ci_high_pct=None, p_value=None,
                confidence=None, threshold_pct=None, min_detectable_pct=None)
    return MeasurementVerdict(**{**base, **fields})
