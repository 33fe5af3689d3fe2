"""Documents on disk: their types, formats, versions and upgrades.

- ``record``: the run record (typed, versioned, schema in ``schemas/``), read with upgrades;
- ``baseline``: the stored baseline and its provenance; ``atomic``: atomic writes and appends.
"""
