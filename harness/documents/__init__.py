"""Documents: every format the harness writes or reads, one module each, and the one version check.

- ``versions``: ``Format`` and ``read`` (a newer version is refused; an older one is upgraded by the
  format's explicit functions or refused);
- ``record`` and ``record_types``: the run record (builder, loading, validation against ``schemas/``,
  typed fields); ``baseline``: the stored baseline and its provenance; ``verdict``, ``sweep``,
  ``calibration``: those files; ``atomic``: atomic writes and appended history.
"""
