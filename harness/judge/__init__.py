"""Judging: every verdict comes from here, and it reads records only (nothing here runs or measures).

- ``decide``: the one ``verdict_of`` every entry point calls, and the sequential gate's ``stop_reason``;
- ``compare``: a run against a baseline (and the in-session arms); the rules per measurement kind are
  ``significance`` (times, throughput, memory: thresholds, detectable effects, speed normalisation)
  and ``rules`` (metrics, loss, counts, report-only); ``verdict``: the Verdict types;
- ``policy``: the policies file; ``stats`` and ``sequential``: pure statistics;
- ``attribution``: code vs environment; ``calibration`` and ``gate_calibration``: the A/A,
  detectable-effect and planted-effect analyses behind ``t4rec-bench calibrate``;
- ``history`` and ``changepoints``: the run history and its steps.
"""
