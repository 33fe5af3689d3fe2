"""Running: processes that execute the pipeline and collect what they measured.

- ``runner``: one run in a worker process (``worker``), watched for hangs and crashes, merged into a record;
- ``reference``: the in-session reference (another commit, through ``python -m harness.cli run ... --out``),
  paired with the current code (duet or alternating); ``envs`` builds the reference's environments;
- ``envbisect``: the search behind ``bisect-env``; ``sweep``: profile sweeps;
- ``nightly_pairs`` / ``asv_nightly``: the nightly under asv (one night's pairs, the asv commands).
"""
