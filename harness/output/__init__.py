"""Output: everything a person reads.

``formatters`` (the one unit-aware value formatter, verdict text and markdown), ``summary`` (the
run summary), ``progress`` (console progress) and ``report/`` (the HTML report).
"""
