"""Judging: every verdict comes from here and reads records only.

- ``judging.judge``: the one judge; ``compare``: the rules that turn a run and a baseline into a Verdict;
- ``policy``: the policies file; ``stats`` / ``sequential``: the tests and confidence sequences;
- ``gate``: the in-session sequential gate; ``gate_calibration``: its A/A and planted-effect analysis;
- ``attribution``: code vs environment; ``history`` / ``changepoints``: the run history and its steps.
"""
