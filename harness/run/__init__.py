"""Running: processes that execute the pipeline, and checks built from them.

- ``runner``: one run in a fresh ``worker`` process, watched for hangs and crashes, merged into a record;
- ``reference``: the in-session reference (another commit, through ``python -m harness.cli run ... --out``)
  paired with the current code (duet or alternating); ``envs``, ``env_commands``, ``env_layered``:
  the reference's environments; ``gate``: one check (pairs, a look after each, the verdict);
- ``envbisect``: the search behind ``bisect-env``; ``sweep``: profile sweeps;
- ``nightly_pairs`` and ``asv_nightly``: the nightly under asv (one night's pairs, the asv commands).
"""
