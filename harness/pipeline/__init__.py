"""The pipeline under test (the seed tutorial): ``chain`` runs ``stages/`` in order under the
meters, with faults (planted slowdowns), ``determinism`` (seeds, deterministic kernels) and
``workarounds`` (documented fixes for the 2023 stack); ``scale`` spreads it over a Dask cluster
and DDP ranks (``ddp_train`` is one rank's process). Nothing here judges anything."""
