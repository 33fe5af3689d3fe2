"""Nested dicts as one dict of dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""

from __future__ import annotations


def flatten(d: dict, prefix: str = "", keep_empty: bool = False) -> dict:
    """Nested dicts as one dict of dotted keys.

    An empty nested dict has no leaves: it is left out, or with ``keep_empty`` kept as the value of
    its own key (the report shows it as ``{}``; a profile's empty table adds nothing to a config).
    """
    out = {}
    for key, value in d.items():
        if isinstance(value, dict) and (value or not keep_empty):
            out.update(flatten(value, f"{prefix}{key}.", keep_empty))
        else:
            out[f"{prefix}{key}"] = value
    return out
