"""Running: processes that execute the pipeline and collect what they measured.

- ``runner``: one run in a worker process (``worker``), watched for hangs and crashes, merged into a record;
- ``reference``: the in-session reference (another commit, through ``python -m harness.cli run ... --out``),
  paired with the current code (duet or alternating); ``envs`` builds the reference's environments;
- ``envbisect``: the search behind ``bisect-env``; ``sweep``: profile sweeps;
- ``scale`` / ``ddp_train``: Dask and DDP scale-out; ``nightly_pairs``: one night's pairs for asv.
"""
